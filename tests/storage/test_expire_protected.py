"""Retention meets a blob the storage protects though its record does not say so: the
deletion is refused, and the record becomes succeeded again with the blob's protection,
so later plans keep it instead of failing on it forever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from activities.retention import expire
from shared.models import BackupRecord, BackupStatus, Tier
from shared.settings import load_settings
from shared.storage.blobs import AzureBlobStore, BlobPlacement, block_id
from shared.storage.repositories import Repositories
from tests.storage.blob_standin import blob_standin


def test_a_refused_deletion_restores_the_record_with_its_protection(
    storage_connection_string: str, table_prefix: str
) -> None:
    settings = load_settings(
        backup_storage_connection_string=storage_connection_string,
        table_prefix=table_prefix,
        secret_store="local",
    )
    repositories = Repositories.from_settings(settings)
    until = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    with blob_standin() as standin:
        blobs = AzureBlobStore.from_connection_string(standin.connection_string(), "backups")
        blobs.stage_block("db/r1.sql.zst.age", block_id(0), b"age")
        placement = BlobPlacement(immutable_until=until)
        blobs.commit_blocks("db/r1.sql.zst.age", [block_id(0)], placement=placement)
        made = BackupRecord(
            id="r1", database_id="db", server_id="srv", status=BackupStatus.SUCCEEDED,
            tiers=[Tier.MONTHLY], blob_name="db/r1.sql.zst.age",
            started_at=datetime.now(UTC), sha256="0" * 64,
        )  # fmt: skip
        record = repositories.backups.create(made)
        services = SimpleNamespace(repositories=repositories, blobs=blobs)
        expire(services, record)  # type: ignore[arg-type]
        assert blobs.exists("db/r1.sql.zst.age")
    stored = repositories.backups.get("db", "r1")
    assert stored is not None
    assert stored.status is BackupStatus.SUCCEEDED
    assert stored.blob_name == "db/r1.sql.zst.age"
    assert stored.immutable_until == until
