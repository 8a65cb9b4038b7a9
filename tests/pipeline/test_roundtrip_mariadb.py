"""MariaDB → mariadb-dump → Azurite → verify → mariadb client into a new database, compared
table by table; plus the password's absence from the dump's command line, a dump killed
mid-way, and clear failures for bad credentials, a missing database and an unreachable host."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pymysql
import pytest
import zstandard

from shared.engines.base import ConnectionSpec
from shared.engines.registry import engine_for
from shared.models import Engine, TlsMode
from shared.pipeline.dump import run_backup
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import BackupFailed, BackupOutcome, PipelineOptions, RestoreFailed
from shared.pipeline.verify import verify_backup
from shared.storage.blobs import AzureBlobStore
from tests.conftest import unique_name

ALL_BYTES = bytes(range(256)).hex()
AWKWARD = [
    """CREATE TABLE bin (id INT AUTO_INCREMENT PRIMARY KEY, small VARBINARY(300),
         big LONGBLOB) ENGINE=InnoDB""",
    f"INSERT INTO bin (small, big) VALUES (UNHEX('{ALL_BYTES}'), UNHEX(REPEAT('{ALL_BYTES}', 64)))",
    "INSERT INTO bin (small, big) VALUES (NULL, NULL), (UNHEX('00'), ''), ('', UNHEX('FF00'))",
    """CREATE TABLE txt (id BIGINT AUTO_INCREMENT PRIMARY KEY, body LONGTEXT, note VARCHAR(64))
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    """INSERT INTO txt (body, note) VALUES
         ('emoji 😀 👩‍👩‍👧 🏳️‍🌈', 'astral'), ('RTL مرحبا بالعالم שלום', NULL),
         ('combining é ñ ﬁ Å', 'nfd'),
         ('tab\there\nnew line\\\\backslash ''quote'' "dq" \r cr', 'escapes'),
         (NULL, NULL), ('', '')""",
    "SET SESSION group_concat_max_len = 67108864",
    """INSERT INTO txt (body, note)
         SELECT GROUP_CONCAT(MD5(seq) ORDER BY seq SEPARATOR ''), 'large' FROM seq_1_to_150000""",
    # Auto-increment continues past deleted rows: the dump must carry the counter.
    "INSERT INTO txt (body) VALUES ('gone'), ('gone too')",
    "DELETE FROM txt WHERE body LIKE 'gone%'",
    "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, txt_id BIGINT, note VARCHAR(64))",
    """CREATE TRIGGER txt_audit AFTER INSERT ON txt FOR EACH ROW
         INSERT INTO audit (txt_id, note) VALUES (NEW.id, COALESCE(NEW.note, '∅'))""",
    "INSERT INTO txt (body, note) VALUES ('after trigger', 'audited')",
    """CREATE FUNCTION shout(t VARCHAR(64)) RETURNS VARCHAR(80) DETERMINISTIC
         RETURN CONCAT(UPPER(t), '!')""",
    """CREATE PROCEDURE add_note(IN n VARCHAR(64))
         BEGIN INSERT INTO txt (body, note) VALUES ('from procedure', n); END""",
    "CREATE VIEW loud AS SELECT id, shout(note) AS note FROM txt WHERE note IS NOT NULL",
    """CREATE TABLE nums (d DECIMAL(30,10), f DOUBLE, dt DATETIME(6), j JSON, b BIT(8),
         e ENUM('a','b'))""",
    """INSERT INTO nums VALUES (12345678901234567890.0123456789, -1.5e-300,
         '2024-02-29 23:59:59.999999', '{"a": [1, null, "☃"]}', b'10101010', 'b'),
         (NULL, NULL, NULL, NULL, NULL, NULL)""",
    # What separates tuples and statements, as data and in a quoted name; a column list
    # in the INSERTs (an invisible column makes the dump name its columns).
    """CREATE TABLE `Odd ``Name``.x` (`co)l` INT, body TEXT, hidden INT INVISIBLE DEFAULT 7)
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    r"""INSERT INTO `Odd ``Name``.x` (`co)l`, body) VALUES (1, '),('), (2, ');\n('),
         (3, 'a\\'), (4, '\\.'), (5, 'multi\nline\r\nstring\n'), (6, '(''('),
         (7, 'INSERT INTO `txt` VALUES (1),(2);'), (8, NULL), (9, '\\'), (10, '\\\\''')""",
    # A MERGE table: the dump holds no rows of its own (its part's are in the part).
    "CREATE TABLE part (x INT) ENGINE=MyISAM",
    "INSERT INTO part VALUES (1), (2), (3)",
    "CREATE TABLE merged (x INT) ENGINE=MERGE UNION=(part)",
    "CREATE TABLE empty_one (x INT)",
    # A trigger body whose line reads like a data INSERT; created last, it never fires here.
    """CREATE TRIGGER bin_audit AFTER INSERT ON bin FOR EACH ROW
INSERT INTO `audit` VALUES (NULL, NEW.id, '),(')""",
]
TABLES = ["Odd `Name`.x", "audit", "bin", "empty_one", "nums", "part", "txt"]


def admin(user: str = "root", password: str = "") -> pymysql.connections.Connection:
    return pymysql.connect(
        host="127.0.0.1",
        port=3306,
        user=user,
        password=password,
        charset="utf8mb4",
        autocommit=True,
    )


def run_sql(database: str, statements: list[str], user: str = "root", password: str = "") -> None:
    """Runs statements as `user` (routines and triggers get that user as their definer)."""
    conn = admin(user, password)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"USE `{database}`")
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def fingerprint(database: str, table: str) -> tuple[int, str]:
    """Row count and an MD5 over every column's bytes (hex, NULL marked), in key order."""
    conn = admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION group_concat_max_len = 1073741824")
            cursor.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            columns = [f"IFNULL(HEX(`{row[0]}`), 'NULL')" for row in cursor.fetchall()]
            cells = ", ".join(columns)
            quoted = "`" + table.replace("`", "``") + "`"
            cursor.execute(
                f"SELECT COUNT(*), MD5(IFNULL(GROUP_CONCAT(MD5(CONCAT_WS('|', {cells}))"
                f" ORDER BY {cells} SEPARATOR ''), '')) FROM `{database}`.{quoted}"
            )
            count, digest = cursor.fetchone()
    finally:
        conn.close()
    return int(count), str(digest)


@pytest.fixture
def db_user(mariadb_database: str, my_target: str) -> Iterator[tuple[str, str]]:
    """A user with a real (random) password and rights on the test's two databases only."""
    user, password = unique_name("u"), "Pw-" + secrets.token_urlsafe(18)
    conn = admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cursor.execute(f"GRANT ALL ON `{mariadb_database}`.* TO %s@'%%'", (user,))
            cursor.execute(f"GRANT ALL ON `{my_target}`.* TO %s@'%%'", (user,))
        yield user, password
        with conn.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    finally:
        conn.close()


@pytest.fixture
def my_target() -> Iterator[str]:
    name = unique_name("myr_")
    yield name
    conn = admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def spec(database: str, user: str = "root", password: str = "", port: int = 3306) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.MARIADB,
        host="127.0.0.1",
        port=port,
        username=user,
        password=password,
        database=database,
        tls_mode=TlsMode.DISABLE,  # the machine's server has no TLS
        connect_timeout_seconds=3,
    )


def backup(source: ConnectionSpec, store: AzureBlobStore, **options: object) -> BackupOutcome:
    return run_backup(
        engine_for(Engine.MARIADB),
        source,
        store,
        record_id="rec-my",
        server_id="local-my",
        database_id="db-my",
        blob_name=f"local-my/db-my/{unique_name('r')}.sql.zst",
        options=PipelineOptions(**{"block_size": 256 * 1024, **options}),  # type: ignore[arg-type]
    )


def test_mariadb_round_trip_keeps_every_table_byte_for_byte(
    mariadb_database: str, my_target: str, db_user: tuple[str, str], blob_store: AzureBlobStore
) -> None:
    run_sql(mariadb_database, AWKWARD, *db_user)
    source = spec(mariadb_database, *db_user)
    outcome = backup(source, blob_store)
    assert outcome.raw_bytes > 4_800_000 and outcome.block_count > 1
    dumped = {t.name: t.rows for t in outcome.manifest.tables}
    assert sorted(dumped) == TABLES
    # The tuples counted in the dump stream are count(*) on the source, table by table.
    assert dumped == {table: fingerprint(mariadb_database, table)[0] for table in TABLES}
    assert (dumped["txt"], dumped["Odd `Name`.x"], dumped["part"]) == (8, 10, 3)

    verified = verify_backup(blob_store, outcome.blob_name, outcome.sha256, b"-- Dump completed")
    assert verified.ok, verified.reason

    target = spec(my_target, *db_user)
    restored = restore_backup(
        engine_for(Engine.MARIADB),
        target,
        blob_store,
        outcome.blob_name,
        outcome.sha256,
        manifest=outcome.manifest,
    )
    assert restored.tables_compared == len(TABLES) and restored.differences == []
    for table in TABLES:
        assert fingerprint(my_target, table) == fingerprint(mariadb_database, table), table
    run_sql(my_target, ["CALL add_note('via call')"], *db_user)
    conn = admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM `{my_target}`.txt")
            # 7 rows, 2 deleted (ids 8, 9), one after the trigger (10): the call gets 11.
            assert cursor.fetchone()[0] == 11
            cursor.execute(f"SELECT COUNT(*) FROM `{my_target}`.audit")
            assert cursor.fetchone()[0] == 2  # the dumped audit row + the new one
            cursor.execute(f"SELECT note FROM `{my_target}`.loud WHERE note = 'VIA CALL!'")
            assert cursor.fetchone() is not None
    finally:
        conn.close()
    with pytest.raises(RestoreFailed) as refused:
        restore_backup(
            engine_for(Engine.MARIADB),
            target,
            blob_store,
            outcome.blob_name,
            outcome.sha256,
            manifest=None,
        )
    assert "not empty" in refused.value.message


class SlowStore:
    """The real store, slowed down: the dump backs up on the pipe and lasts a while."""

    def __init__(self, inner: AzureBlobStore, delay: float) -> None:
        self._inner, self._delay = inner, delay

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        time.sleep(self._delay)
        self._inner.stage_block(name, block_id, data)


def dump_children() -> list[psutil.Process]:
    return [c for c in psutil.Process().children(recursive=True) if "dump" in c.name()]


def fill(database: str, megabytes: int) -> None:
    """About `megabytes` MB of md5 text (10,000 rows of two 32-character strings per MB)."""
    create = "CREATE TABLE filler (id INT AUTO_INCREMENT PRIMARY KEY, a CHAR(32), b CHAR(32))"
    insert = "INSERT INTO filler (a, b) SELECT MD5(seq + {0}), MD5(seq) FROM seq_1_to_10000"
    run_sql(database, [create] + [insert.format(i * 10000) for i in range(megabytes)])


def test_password_never_on_the_dump_command_line(
    mariadb_database: str, db_user: tuple[str, str], blob_store: AzureBlobStore
) -> None:
    user, password = db_user
    fill(mariadb_database, 16)
    seen: list[tuple[str, bytes, bytes]] = []
    result: dict[str, object] = {}

    def run() -> None:
        result["outcome"] = backup(
            spec(mariadb_database, user, password),
            SlowStore(blob_store, 0.05),  # type: ignore[arg-type]
            block_size=256 * 1024,
            upload_concurrency=1,
            compression_threads=0,
        )

    worker = threading.Thread(target=run)
    worker.start()
    while worker.is_alive():
        for child in dump_children():
            try:
                cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{child.pid}/environ").read_bytes()
            except (FileNotFoundError, ProcessLookupError):
                continue
            seen.append((child.name(), cmdline, environ))
        time.sleep(0.02)
    worker.join()
    assert isinstance(result.get("outcome"), BackupOutcome)
    assert any(b"mariadb-dump" in cmdline or b"mysqldump" in cmdline for _, cmdline, _ in seen)
    assert len(seen) >= 3  # sampled several times during the dump
    for _, cmdline, environ in seen:
        assert password.encode() not in cmdline
        assert password.encode() not in environ


def test_dump_killed_midway_leaves_no_blob(
    mariadb_database: str, blob_store: AzureBlobStore
) -> None:
    fill(mariadb_database, 24)
    failure: dict[str, BaseException] = {}
    name_holder: list[str] = []

    def run() -> None:
        try:
            name = f"local-my/db-my/{unique_name('k')}.sql.zst"
            name_holder.append(name)
            run_backup(
                engine_for(Engine.MARIADB),
                spec(mariadb_database),
                SlowStore(blob_store, 0.05),  # type: ignore[arg-type]
                record_id="rec",
                server_id="s",
                database_id="d",
                blob_name=name,
                # Single-threaded zstd buffers little: the slow store holds the dump back.
                options=PipelineOptions(
                    block_size=64 * 1024, upload_concurrency=1, compression_threads=0
                ),
            )
        except BaseException as exc:
            failure["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    killed = False
    while worker.is_alive() and not killed:
        for child in dump_children():
            staged = blob_store.uncommitted_block_count(name_holder[0])
            if staged >= 3 and child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
                killed = True
        time.sleep(0.02)
    worker.join()
    assert killed
    error = failure.get("error")
    assert isinstance(error, BackupFailed)
    assert "killed by signal 9" in error.message
    assert not blob_store.exists(name_holder[0])
    assert blob_store.uncommitted_block_count(name_holder[0]) >= 3


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad_password", "auth_failed"),
        ("missing_database", "database_missing"),
        ("unreachable", "unreachable"),
    ],
)
def test_connection_problems_fail_clearly_without_a_blob(
    case: str,
    reason: str,
    mariadb_database: str,
    db_user: tuple[str, str],
    blob_store: AzureBlobStore,
) -> None:
    user, password = db_user
    wrong = password + "-wrong"
    source = {
        "bad_password": spec(mariadb_database, user, wrong),
        # root: a user without rights on a database is told "access denied" instead.
        "missing_database": spec(unique_name("nope_")),
        "unreachable": spec(mariadb_database, user, password, port=1),
    }[case]
    with pytest.raises(BackupFailed) as failure:
        backup(source, blob_store)
    assert failure.value.reason == reason
    assert password not in failure.value.message and wrong not in failure.value.message
    assert not list(blob_store._container.list_blobs())


def test_a_backup_taken_while_rows_are_written_restores_to_its_manifest(
    mariadb_database: str, my_target: str, blob_store: AzureBlobStore
) -> None:
    """The rows are counted in the dump stream, so the manifest is the dump's own snapshot:
    rows written or deleted meanwhile are in neither, and the restore finds exactly the
    manifest (a count in a snapshot of its own would differ from the dump's)."""
    fill(mariadb_database, 20)
    stop = threading.Event()
    written = [0]

    def keep_writing() -> None:
        conn = admin()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"USE `{mariadb_database}`")
                while not stop.is_set():
                    cursor.execute(
                        "INSERT INTO filler (a, b) SELECT 'late', 'late' FROM seq_1_to_50"
                    )
                    cursor.execute("DELETE FROM filler WHERE a <> 'late' LIMIT 20")
                    written[0] += 1
        finally:
            conn.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.2)  # the writes are under way before the dump starts
        before = written[0]
        outcome = backup(spec(mariadb_database), blob_store)
        during = written[0] - before
    finally:
        stop.set()
        writer.join()
    dumped = {t.name: t.rows for t in outcome.manifest.tables}["filler"]
    assert during > 5  # writes went on during the backup...
    assert fingerprint(mariadb_database, "filler")[0] != dumped  # ...and after it
    restored = restore_backup(
        engine_for(Engine.MARIADB),
        spec(my_target),
        blob_store,
        outcome.blob_name,
        outcome.sha256,
        manifest=outcome.manifest,
    )
    assert restored.differences == []
    assert fingerprint(my_target, "filler")[0] == dumped


def test_the_user_s_option_file_changes_neither_the_dump_nor_what_is_counted(
    mariadb_database: str,
    blob_store: AzureBlobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ~/.my.cnf that would drop the LOCK TABLES sections (--compact), the backticks and
    the extended inserts is not read at all: the tools run with a HOME of their own
    (shared/pipeline/process.py), and the dump options are explicit (--add-locks). The row
    counter's tolerance of those layouts (a server-wide option file can still set them) is
    proven on generated dumps in tests/pipeline/test_row_counts.py."""
    (tmp_path / ".my.cnf").write_text(
        "[mysqldump]\ncompact\nskip-quote-names\nskip-extended-insert\ninsert-ignore\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    run_sql(mariadb_database, AWKWARD[:7])  # bin and txt, their awkward rows included
    outcome = backup(spec(mariadb_database), blob_store)
    raw = (
        zstandard.ZstdDecompressor()
        .decompressobj()
        .decompress(b"".join(blob_store.read_chunks(outcome.blob_name)))
    )
    assert b"\nLOCK TABLES `bin` WRITE;\n" in raw  # the file was not read
    assert b"\nINSERT INTO `bin` VALUES\n(" in raw and b"INSERT IGNORE" not in raw
    dumped = {t.name: t.rows for t in outcome.manifest.tables}
    assert dumped == {name: fingerprint(mariadb_database, name)[0] for name in ("bin", "txt")}
    assert dumped == {"bin": 4, "txt": 7}
