"""verify_backup and restore_backup against real blobs in Azurite, with the fake tool."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import zstandard

from shared.engines.base import ConnectionSpec
from shared.models import TableManifest
from shared.pipeline.dump import run_backup
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import BackupOutcome, PipelineOptions, RestoreFailed
from shared.pipeline.verify import verify_backup
from shared.storage.blobs import AzureBlobStore
from tests.conftest import unique_name
from tests.pipeline.conftest import MARKER, FakeEngine

RAW = 6 * 1024 * 1024


@pytest.fixture
def backed_up(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> BackupOutcome:
    engine = FakeEngine(dump_args=["--bytes", str(RAW), "--marker", MARKER.decode()])
    return run_backup(
        engine,
        fake_spec,
        blob_store,
        record_id="rec",
        server_id="srv",
        database_id="db",
        blob_name=f"srv/db/{unique_name('b')}.sql.zst",
        options=small_blocks,
    )


def stored(store: AzureBlobStore, name: str) -> bytes:
    return b"".join(store.read_chunks(name))


def test_verify_accepts_a_good_backup(blob_store: AzureBlobStore, backed_up: BackupOutcome) -> None:
    result = verify_backup(blob_store, backed_up.blob_name, backed_up.sha256, MARKER)
    assert result.ok, result.reason
    assert result.raw_bytes == backed_up.raw_bytes
    assert result.stored_bytes == backed_up.stored_bytes
    assert result.sha256 == backed_up.sha256


def test_verify_rejects_a_corrupted_copy(
    blob_store: AzureBlobStore, backed_up: BackupOutcome
) -> None:
    data = bytearray(stored(blob_store, backed_up.blob_name))
    data[len(data) // 2] ^= 0x5A
    blob_store.upload("corrupt.sql.zst", bytes(data))
    result = verify_backup(blob_store, "corrupt.sql.zst", backed_up.sha256, MARKER)
    assert not result.ok
    assert "corrupted" in (result.reason or "")


def test_verify_rejects_a_truncated_copy_by_checksum(
    blob_store: AzureBlobStore, backed_up: BackupOutcome
) -> None:
    data = stored(blob_store, backed_up.blob_name)
    blob_store.upload("short.sql.zst", data[: len(data) - 1000])
    result = verify_backup(blob_store, "short.sql.zst", backed_up.sha256, MARKER)
    assert not result.ok
    assert "checksum mismatch" in (result.reason or "")


def test_verify_rejects_a_dump_without_its_completion_marker(blob_store: AzureBlobStore) -> None:
    data = zstandard.ZstdCompressor().compress(b"CREATE TABLE t (id int);\n" * 1000)
    blob_store.upload("cut.sql.zst", data)
    sha = hashlib.sha256(data).hexdigest()
    result = verify_backup(blob_store, "cut.sql.zst", sha, MARKER)
    assert not result.ok
    assert "incomplete" in (result.reason or "")
    assert verify_backup(blob_store, "cut.sql.zst", sha, None).ok


def test_verify_reports_wrong_checksum_and_missing_blob(
    blob_store: AzureBlobStore, backed_up: BackupOutcome
) -> None:
    wrong = verify_backup(blob_store, backed_up.blob_name, "0" * 64, MARKER)
    assert not wrong.ok and "checksum mismatch" in (wrong.reason or "")
    missing = verify_backup(blob_store, "nope.sql.zst", backed_up.sha256, MARKER)
    assert not missing.ok and "does not exist" in (missing.reason or "")


def _restore_engine(tmp_path: Path, *extra: str) -> tuple[FakeEngine, Path]:
    report = tmp_path / "report.txt"
    return FakeEngine(restore_args=["--report", str(report), *extra]), report


def test_restore_feeds_exactly_the_dump_and_compares_the_manifest(
    blob_store: AzureBlobStore, backed_up: BackupOutcome, fake_spec: ConnectionSpec, tmp_path: Path
) -> None:
    engine, report = _restore_engine(tmp_path)
    expected = backed_up.manifest.model_copy(
        update={"tables": [TableManifest(schema_name="public", name="t", rows=3)]}
    )
    target = fake_spec.model_copy(update={"database": "restored"})
    result = restore_backup(
        engine, target, blob_store, backed_up.blob_name, backed_up.sha256, manifest=expected
    )
    raw = (
        zstandard.ZstdDecompressor()
        .decompressobj()
        .decompress(stored(blob_store, backed_up.blob_name))
    )
    assert report.read_text().split() == [hashlib.sha256(raw).hexdigest(), str(len(raw))]
    assert "restored" in engine.existing  # created because it was missing
    assert result.raw_bytes == backed_up.raw_bytes
    assert result.sha256 == backed_up.sha256
    # The fake target has no tables: the manifest comparison must say so.
    assert [(d.table, d.expected_rows, d.actual_rows) for d in result.differences] == [
        ("public.t", 3, None)
    ]


def test_restore_refuses_a_non_empty_target(
    blob_store: AzureBlobStore, backed_up: BackupOutcome, fake_spec: ConnectionSpec, tmp_path: Path
) -> None:
    engine, report = _restore_engine(tmp_path)
    engine.existing.add("busy")
    engine.non_empty.add("busy")
    target = fake_spec.model_copy(update={"database": "busy"})
    with pytest.raises(RestoreFailed) as failure:
        restore_backup(
            engine, target, blob_store, backed_up.blob_name, backed_up.sha256, manifest=None
        )
    assert "not empty" in failure.value.message
    assert not report.exists()
    restore_backup(
        engine,
        target,
        blob_store,
        backed_up.blob_name,
        backed_up.sha256,
        manifest=None,
        allow_non_empty=True,
    )
    assert report.exists()


@pytest.mark.parametrize("system", ["mysql", "postgres", "template1", "SYS", "master"])
def test_restore_never_targets_a_system_database(
    blob_store: AzureBlobStore,
    backed_up: BackupOutcome,
    fake_spec: ConnectionSpec,
    tmp_path: Path,
    system: str,
) -> None:
    """Even a restore started without the API's check (allow_non_empty included)."""
    engine, report = _restore_engine(tmp_path)
    engine.existing.add(system)
    target = fake_spec.model_copy(update={"database": system})
    with pytest.raises(RestoreFailed) as failure:
        restore_backup(
            engine, target, blob_store, backed_up.blob_name, backed_up.sha256,
            manifest=None, allow_non_empty=True,
        )  # fmt: skip
    assert failure.value.reason == "system_database"
    assert not report.exists()


def test_restore_with_a_wrong_checksum_stops_the_tool_before_its_input_ends(
    blob_store: AzureBlobStore, backed_up: BackupOutcome, fake_spec: ConnectionSpec, tmp_path: Path
) -> None:
    engine, report = _restore_engine(tmp_path)
    with pytest.raises(RestoreFailed) as failure:
        restore_backup(engine, fake_spec, blob_store, backed_up.blob_name, "f" * 64, manifest=None)
    assert "checksum mismatch" in failure.value.message
    assert "drop the target" in failure.value.message
    # The fake tool writes its report only after a clean end of input: it never saw one.
    assert not report.exists()


def test_restore_tool_failure_is_reported_without_the_password(
    blob_store: AzureBlobStore, backed_up: BackupOutcome, fake_spec: ConnectionSpec, tmp_path: Path
) -> None:
    password = fake_spec.password.get_secret_value()
    engine, _ = _restore_engine(
        tmp_path, "--exit-code", "1", "--stderr", f"ERROR: syntax; password={password}"
    )
    with pytest.raises(RestoreFailed) as failure:
        restore_backup(
            engine, fake_spec, blob_store, backed_up.blob_name, backed_up.sha256, manifest=None
        )
    assert "exited with code 1" in failure.value.message
    assert "ERROR: syntax" in failure.value.message
    assert password not in failure.value.message
