"""Encrypted backups of a real PostgreSQL database: pg_dump → zstd → age → Azurite, then
verify and restore with the identity, `age -d | zstd -d` by hand, and the failures: no key,
the wrong key, a truncated and a changed blob, which must never leave a restored database."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from shared.crypto.age import generate_identity
from shared.engines.base import ConnectionSpec
from shared.engines.registry import engine_for
from shared.models import Engine, TlsMode
from shared.pipeline.dump import run_backup
from shared.pipeline.encrypt import encryption_to
from shared.pipeline.naming import backup_extension
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import BackupOutcome, PipelineOptions, RestoreFailed
from shared.pipeline.verify import verify_backup
from shared.storage.blobs import AzureBlobStore
from tests.conftest import unique_name

MARKER = b"-- PostgreSQL database dump complete"
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
ROWS = 60_000
AGE = shutil.which("age")


def spec(database: str) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.POSTGRESQL, host="127.0.0.1", port=5432, username="postgres",
        database=database, tls_mode=TlsMode.DISABLE,  # the machine's server has no TLS
    )  # fmt: skip


def tables_of(database: str) -> list[str]:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as conn:
        rows = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def shop(postgres_database: str) -> str:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={postgres_database}") as c:
        c.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
        c.execute(
            "INSERT INTO orders SELECT i, md5(i::text) FROM generate_series(1, %s) i", (ROWS,)
        )
        c.execute("CREATE TABLE customers (id int, name text)")
        c.execute("INSERT INTO customers VALUES (1, 'Zoë'), (2, 'Ωmega')")
    return postgres_database


@pytest.fixture
def target() -> str:
    """A name for a restore target that does not exist yet; dropped afterwards."""
    name = unique_name("pg_restored_")
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def keys() -> dict[str, tuple[str, str]]:
    return {"service": generate_identity(), "break_glass": generate_identity()}


@pytest.fixture
def encrypted(
    shop: str, blob_store: AzureBlobStore, keys: dict[str, tuple[str, str]]
) -> BackupOutcome:
    service, break_glass = keys["service"], keys["break_glass"]
    encryption = encryption_to("svc-1", service[1], [break_glass[1]])
    name = f"srv/shop/x{backup_extension(Engine.POSTGRESQL, encrypted=True)}"
    return run_backup(
        engine_for(Engine.POSTGRESQL), spec(shop), blob_store, record_id="r1",
        server_id="srv", database_id="shop", blob_name=name, options=PipelineOptions(),
        encryption=encryption,
    )  # fmt: skip


def stored(store: AzureBlobStore, name: str) -> bytes:
    return b"".join(store.read_chunks(name))


def test_the_stored_blob_is_age_and_its_checksum_needs_no_key(
    encrypted: BackupOutcome, blob_store: AzureBlobStore
) -> None:
    assert encrypted.blob_name.endswith(".sql.zst.age")
    data = stored(blob_store, encrypted.blob_name)
    assert data.startswith(b"age-encryption.org/v1\n")
    assert b"orders" not in data and b"CREATE TABLE" not in data
    assert hashlib.sha256(data).hexdigest() == encrypted.sha256
    assert encrypted.stored_bytes == len(data)
    info = blob_store.info(encrypted.blob_name)
    assert info.metadata["encryption"] == "age"
    assert info.metadata["key_id"] == "svc-1"
    assert info.metadata["recipients"] == "2"
    assert (encrypted.encryption, encrypted.identity_id) == ("age", "svc-1")
    assert encrypted.extra_recipients == [encrypted.extra_recipients[0]]


@pytest.mark.skipif(AGE is None, reason="age is not installed")
def test_the_owner_decrypts_it_by_hand_with_age_and_zstd(
    encrypted: BackupOutcome, blob_store: AzureBlobStore, keys: dict, tmp_path: Path
) -> None:
    """`age -d -i key.txt shop.sql.zst.age | zstd -d > shop.sql`, with the break-glass key."""
    assert AGE is not None
    blob = tmp_path / "shop.sql.zst.age"
    blob.write_bytes(stored(blob_store, encrypted.blob_name))
    key = tmp_path / "key.txt"
    key.write_text(f"# break-glass\n{keys['break_glass'][0]}\n")
    age = subprocess.Popen([AGE, "-d", "-i", str(key), str(blob)], stdout=subprocess.PIPE)
    sql = subprocess.run(["zstd", "-d"], stdin=age.stdout, capture_output=True, check=True)
    assert age.wait() == 0
    assert MARKER in sql.stdout[-4096:]
    assert b"COPY public.orders" in sql.stdout
    assert len(sql.stdout) == encrypted.raw_bytes


def test_verify_decrypts_to_the_end_with_the_key(
    encrypted: BackupOutcome, blob_store: AzureBlobStore, keys: dict
) -> None:
    outcome = verify_backup(
        blob_store, encrypted.blob_name, encrypted.sha256, MARKER,
        encrypted=True, identity=keys["service"][0],
    )  # fmt: skip
    assert outcome.ok, outcome.reason
    assert outcome.raw_bytes == encrypted.raw_bytes


def test_verify_without_the_key_checks_the_checksum_only_and_is_not_ok(
    encrypted: BackupOutcome, blob_store: AzureBlobStore
) -> None:
    outcome = verify_backup(
        blob_store, encrypted.blob_name, encrypted.sha256, MARKER,
        encrypted=True, identity=None, missing_identity="its key svc-1 was retired",
    )  # fmt: skip
    assert not outcome.ok
    assert outcome.sha256 == encrypted.sha256
    assert "checksum matches" in (outcome.reason or "")
    assert "svc-1 was retired" in (outcome.reason or "")


def test_verify_with_another_key_fails(
    encrypted: BackupOutcome, blob_store: AzureBlobStore
) -> None:
    outcome = verify_backup(
        blob_store, encrypted.blob_name, encrypted.sha256, MARKER,
        encrypted=True, identity=generate_identity()[0],
    )  # fmt: skip
    assert not outcome.ok
    assert "does not decrypt" in (outcome.reason or "")


def test_restore_decrypts_into_a_new_database(
    encrypted: BackupOutcome, blob_store: AzureBlobStore, keys: dict, target: str
) -> None:
    outcome = restore_backup(
        engine_for(Engine.POSTGRESQL), spec(target), blob_store, encrypted.blob_name,
        encrypted.sha256, manifest=encrypted.manifest, encrypted=True,
        identity=keys["service"][0],
    )  # fmt: skip
    assert outcome.differences == []
    assert outcome.tables_compared == 2


def test_restore_without_the_key_fails_before_touching_the_target(
    encrypted: BackupOutcome, blob_store: AzureBlobStore, target: str
) -> None:
    with pytest.raises(RestoreFailed, match="key is not available"):
        restore_backup(
            engine_for(Engine.POSTGRESQL), spec(target), blob_store, encrypted.blob_name,
            encrypted.sha256, manifest=encrypted.manifest, encrypted=True, identity=None,
        )  # fmt: skip
    with psycopg.connect(ADMIN) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,))
        assert found.fetchone() is None


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_blob_never_leaves_a_restored_database(
    damage: str, encrypted: BackupOutcome, blob_store: AzureBlobStore, keys: dict, target: str
) -> None:
    """The dump is several 64 KiB chunks long, so psql has received authenticated chunks
    (and run their statements) before the damage is found: the restore is stopped before
    its input ends cleanly, and psql's single transaction rolls everything back."""
    data = bytearray(stored(blob_store, encrypted.blob_name))
    assert len(data) > 4 * 65536
    if damage == "truncated":
        data = data[: len(data) - 70_000]
    else:
        data[len(data) - 1000] ^= 0x20
    name = encrypted.blob_name.replace(".sql.zst.age", f"-{damage}.sql.zst.age")
    blob_store.upload(name, bytes(data))
    damaged_sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(RestoreFailed, match="does not decrypt") as caught:
        restore_backup(
            engine_for(Engine.POSTGRESQL), spec(target), blob_store, name, damaged_sha,
            manifest=encrypted.manifest, encrypted=True, identity=keys["service"][0],
        )  # fmt: skip
    assert caught.value.reason == "corrupt"
    assert tables_of(target) == []  # the target exists (it was created), empty
    verified = verify_backup(
        blob_store, name, damaged_sha, MARKER, encrypted=True, identity=keys["service"][0]
    )
    assert not verified.ok and "does not decrypt" in (verified.reason or "")
