r"""A blob is fed to psql or the mariadb client before its checksum is known, so whoever
can write to the container writes the restore tool's input. The client commands in it
(`\! <shell command>`, `system`, `\copy ... program`, `\o |cmd`, `LOAD DATA LOCAL`,
`\r db host`) must not run on this host, whether or not the blob's checksum matches: the
restore fails and the command has no effect. Restores go through the product's
restore_backup, into the machine's PostgreSQL 15 and MariaDB 10.11, from Azurite."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
import zstandard
from psycopg import sql

from shared.engines.registry import engine_for
from shared.models import Engine, TlsMode
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import RestoreFailed
from shared.storage.blobs import AzureBlobStore
from tests.conftest import unique_name
from tests.engines.conftest import mariadb_spec, pg15_spec
from tests.impostors import Impostor, MySqlImpostor

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

# {marker}: a file the command would create; {key}: a key the blob chose itself.
PG_DUMPS = {
    "shell": "CREATE TABLE t (x int);\n\\! touch {marker}\nINSERT INTO t VALUES (1);\n",
    # The blob's own \restrict and a forged \unrestrict with the same key: it cannot lift
    # a restriction whose key it does not know.
    "forged_unrestrict": (
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict {key}\n\n"
        "CREATE TABLE t (x int);\n\\unrestrict {key}\n\\! touch {marker}\n"
        "INSERT INTO t VALUES (1);\n"
    ),
    "copy_program": "CREATE TABLE t (x int);\n\\copy t to program 'touch {marker}'\n",
    "output_pipe": "\\o | touch {marker}\nSELECT 1;\n",
    "inline": "SELECT 1 \\! touch {marker}\n;\n",
}

MARIADB_DUMPS = {
    "shell": "CREATE TABLE t (x INT);\n\\! touch {marker}\nINSERT INTO t VALUES (1);\n",
    "system": "CREATE TABLE t (x INT);\nsystem touch {marker}\nINSERT INTO t VALUES (1);\n",
    "inline": "SELECT 1 \\! touch {marker}\n;\n",
}


# After the command: more than the restore's write buffer and the pipe hold, so the
# tool reads (and would run) the command long before the end of the blob, where a
# checksum mismatch is found.
PADDING = ("-- " + "x" * 77 + "\n") * 100_000


def _upload(store: AzureBlobStore, dump: str) -> tuple[str, str]:
    """The dump, padded, as a blob (zstd, as backups are stored), and its real SHA-256."""
    blob = zstandard.ZstdCompressor().compress((dump + PADDING).encode())
    name = f"{uuid.uuid4().hex}.sql.zst"
    store.upload(name, blob)
    return name, hashlib.sha256(blob).hexdigest()


@pytest.fixture
def blob_store(storage_connection_string: str, blob_container: str) -> AzureBlobStore:
    return AzureBlobStore.from_connection_string(storage_connection_string, blob_container)


@pytest.fixture
def pg_target() -> Iterator[str]:
    name = unique_name("pgcmd_")
    yield name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def mariadb_target() -> Iterator[str]:
    name = unique_name("mycmd_")
    yield name
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.mark.parametrize("checksum_matches", [True, False], ids=["same_sha", "other_sha"])
@pytest.mark.parametrize("case", sorted(PG_DUMPS))
def test_psql_runs_no_meta_command_from_the_blob(
    blob_store: AzureBlobStore, pg_target: str, tmp_path: Path, case: str, checksum_matches: bool
) -> None:
    marker = tmp_path / "pwned"
    dump = PG_DUMPS[case].format(marker=marker, key="forgedKey1234")
    name, sha256 = _upload(blob_store, dump)
    spec = pg15_spec(pg_target, tls_mode=TlsMode.DISABLE)
    with pytest.raises(RestoreFailed) as failed:
        restore_backup(
            engine_for(Engine.POSTGRESQL), spec, blob_store, name,
            sha256 if checksum_matches else "0" * 64, manifest=None,
        )  # fmt: skip
    assert not marker.exists(), "a meta-command from the blob ran on this host"
    if checksum_matches:
        assert "restricted" in failed.value.message or "wrong key" in failed.value.message


@pytest.mark.parametrize("checksum_matches", [True, False], ids=["same_sha", "other_sha"])
@pytest.mark.parametrize("case", sorted(MARIADB_DUMPS))
def test_the_mariadb_client_runs_no_client_command_from_the_blob(
    blob_store: AzureBlobStore,
    mariadb_target: str,
    tmp_path: Path,
    case: str,
    checksum_matches: bool,
) -> None:
    marker = tmp_path / "pwned"
    name, sha256 = _upload(blob_store, MARIADB_DUMPS[case].format(marker=marker))
    with pytest.raises(RestoreFailed):
        restore_backup(
            engine_for(Engine.MARIADB), mariadb_spec(mariadb_target), blob_store, name,
            sha256 if checksum_matches else "0" * 64, manifest=None,
        )  # fmt: skip
    assert not marker.exists(), "a client command from the blob ran on this host"


def test_the_mariadb_client_reads_no_file_of_this_host_for_the_blob(
    blob_store: AzureBlobStore, mariadb_target: str, tmp_path: Path
) -> None:
    """LOAD DATA LOCAL INFILE would copy a file of the Function host into the target."""
    secret = tmp_path / "host-secret.txt"
    secret.write_text(f"host-secret-{uuid.uuid4().hex}\n", encoding="utf-8")
    dump = f"CREATE TABLE leak (x TEXT);\nLOAD DATA LOCAL INFILE '{secret}' INTO TABLE leak;\n"
    name, sha256 = _upload(blob_store, dump)
    with pytest.raises(RestoreFailed) as failed:
        restore_backup(
            engine_for(Engine.MARIADB), mariadb_spec(mariadb_target), blob_store, name,
            sha256, manifest=None,
        )  # fmt: skip
    assert "local infile" in failed.value.message
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM `{mariadb_target}`.leak")
            assert cursor.fetchone()[0] == 0
    finally:
        conn.close()


@pytest.fixture
def impostor_on_the_mariadb_port() -> Iterator[Impostor]:
    """An impostor on another loopback address, on the port of the machine's MariaDB."""
    server = MySqlImpostor(host="127.0.0.2", port=3306)
    try:
        server.start()
    except OSError:
        server.stop()
        pytest.skip("127.0.0.2:3306 is taken")
    yield server
    server.stop()


def test_the_mariadb_client_does_not_reconnect_elsewhere_for_the_blob(
    blob_store: AzureBlobStore, mariadb_target: str, impostor_on_the_mariadb_port: Impostor
) -> None:
    """`\\r db host` would log in to another host (on the same port) with our credentials:
    the impostor there sees no connection at all."""
    dump = f"CREATE TABLE t (x INT);\n\\r {mariadb_target} 127.0.0.2\n"
    name, sha256 = _upload(blob_store, dump)
    with pytest.raises(RestoreFailed):
        restore_backup(
            engine_for(Engine.MARIADB), mariadb_spec(mariadb_target), blob_store, name,
            sha256, manifest=None,
        )  # fmt: skip
    assert not impostor_on_the_mariadb_port.connections
