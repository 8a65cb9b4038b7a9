"""MySQL/MariaDB engine against the machine's MariaDB 10.11 (which checks passwords)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pymysql
import pytest

from shared.engines import mysql
from shared.engines.base import ConnectionErrorKind, ConnectionSpec, EngineError, SnapshotDumper
from shared.engines.common import private_file
from shared.engines.mysql import (
    COMPLETION_MARKER,
    MySqlEngine,
    classify,
    defaults_file_text,
    quote_identifier,
)
from shared.engines.tools import ResolvedTool
from shared.models import Engine, TlsMode
from tests.conftest import unique_name
from tests.engines.conftest import (
    AWKWARD_PASSWORD,
    assert_commands_refused,
    changed,
    mariadb_spec,
    run_dump,
    run_restore,
)

ENGINE = MySqlEngine(Engine.MARIADB)
SYSTEM_PLUGINS = Path("/usr/lib/x86_64-linux-gnu/libmariadb3/plugin")

SAMPLE_STATEMENTS = [
    "CREATE TABLE `we``ird; drop` (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT)",
    "INSERT INTO `we``ird; drop` (note) VALUES ('a'), (NULL), ('c')",
    "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(200) NOT NULL,"
    " payload BLOB, big LONGTEXT, touched INT DEFAULT 0) CHARACTER SET utf8mb4",
    "CREATE TABLE empty_one (x INT)",
    "CREATE VIEW item_labels AS SELECT id, label FROM items",
    "CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW"
    " SET NEW.touched = OLD.touched + 1",
    "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
    "CREATE PROCEDURE noop() BEGIN SELECT 1; END",
    "CREATE SEQUENCE counter START WITH 10",
]


def load_sample(spec: ConnectionSpec) -> None:
    conn = _connect(spec)
    try:
        with conn.cursor() as cursor:
            for statement in SAMPLE_STATEMENTS:
                cursor.execute(statement)
            rows = [
                (
                    f"ünïcødé ✓ {i}",
                    bytes([i % 256, 0, 255]) * 5,
                    None if i % 10 == 0 else "x" * 1300,
                )
                for i in range(1, 1201)
            ]
            cursor.executemany("INSERT INTO items (label, payload, big) VALUES (%s, %s, %s)", rows)
        conn.commit()
    finally:
        conn.close()


def _connect(spec: ConnectionSpec) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=spec.host,
        port=spec.port,
        user=spec.username,
        password=spec.password.get_secret_value().encode(),
        database=spec.database,
        charset="utf8mb4",
    )


def table_checksums(spec: ConnectionSpec) -> dict[str, int]:
    """MariaDB's content checksum of every base table (same definition, same rows)."""
    names = [t.name for t in ENGINE.manifest(spec).tables]
    conn = _connect(spec)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CHECKSUM TABLE " + ", ".join(quote_identifier(name) for name in names))
            return {row[0].split(".", 1)[1]: row[1] for row in cursor.fetchall()}
    finally:
        conn.close()


# --- connection test ----------------------------------------------------------------------


def test_connection_ok(mariadb_database: str) -> None:
    result = ENGINE.test_connection(mariadb_spec(mariadb_database))
    assert result.ok and result.server_version and "MariaDB" in result.server_version


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"password": "wrong-" + unique_name("")}, ConnectionErrorKind.AUTH_FAILED),
        ({"database": "no_such_db_x1"}, ConnectionErrorKind.DATABASE_MISSING),
        ({"port": 1}, ConnectionErrorKind.UNREACHABLE),
        ({"host": "no-such-host.invalid"}, ConnectionErrorKind.UNREACHABLE),
        ({"tls_mode": TlsMode.REQUIRE}, ConnectionErrorKind.TLS),
        ({"tls_mode": TlsMode.VERIFY_FULL}, ConnectionErrorKind.TLS),
    ],
)
def test_connection_failures(changes: dict[str, object], kind: ConnectionErrorKind) -> None:
    spec = changed(mariadb_spec("test"), **changes)
    result = ENGINE.test_connection(spec)
    assert not result.ok
    assert result.error_kind is kind, result.message
    password = spec.password.get_secret_value()
    assert not password or password not in (result.message or "")


def test_a_silent_server_is_a_timeout(silent_port: int) -> None:
    spec = mariadb_spec("test", port=silent_port, connect_timeout_seconds=1)
    result = ENGINE.test_connection(spec)
    assert result.error_kind is ConnectionErrorKind.TIMEOUT, result.message


def test_only_manifest_connections_may_run_long_queries() -> None:
    spec = mariadb_spec("test", connect_timeout_seconds=1)
    with mysql._connect(spec, long_queries=True) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT SLEEP(1.5)")
        assert cursor.fetchone() == (0,)
    with pytest.raises(EngineError) as raised, mysql._connect(spec) as conn:
        conn.cursor().execute("SELECT SLEEP(1.5)")
    assert raised.value.kind is ConnectionErrorKind.TIMEOUT


def test_timeouts_are_told_apart_from_refusals() -> None:
    timed_out = pymysql.err.OperationalError(2003, "Can't connect to MySQL server (timed out)")
    assert classify(timed_out) is ConnectionErrorKind.TIMEOUT
    azure_tls = pymysql.err.OperationalError(9002, "SSL connection is required.")
    assert classify(azure_tls) is ConnectionErrorKind.TLS


def test_user_with_awkward_password_connects(
    mariadb_database: str, mariadb_user: tuple[str, str]
) -> None:
    user, password = mariadb_user
    spec = mariadb_spec(mariadb_database, username=user, password=password)
    assert ENGINE.test_connection(spec).ok


# --- discovery and manifest ---------------------------------------------------------------


def test_discovery_flags_system_databases(mariadb_database: str) -> None:
    found = {d.name: d for d in ENGINE.list_databases(mariadb_spec(""))}
    for name in ("information_schema", "mysql", "performance_schema"):
        assert found[name].is_system
    assert not found[mariadb_database].is_system


def test_manifest_counts_base_tables_only(mariadb_database: str) -> None:
    spec = mariadb_spec(mariadb_database)
    load_sample(spec)
    manifest = ENGINE.manifest(spec)
    counts = {t.name: t.rows for t in manifest.tables}
    assert counts == {"we`ird; drop": 3, "items": 1200, "empty_one": 0}
    assert "MariaDB" in manifest.tool_version and "MariaDB" in manifest.server_version


def test_catalogue_leaves_out_tables_whose_rows_the_dump_never_holds(
    mariadb_database: str,
) -> None:
    """A MERGE table's rows are its parts' (the dump tools write none of its own); views
    and sequences hold no rows of their own either."""
    spec = mariadb_spec(mariadb_database)
    load_sample(spec)  # a view and a sequence among them
    conn = _connect(spec)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE part (x INT) ENGINE=MyISAM")
            cursor.execute("INSERT INTO part VALUES (1), (2)")
            cursor.execute("CREATE TABLE merged (x INT) ENGINE=MERGE UNION=(part)")
    finally:
        conn.close()
    catalogue = ENGINE.catalogue(spec)
    assert sorted(name for _, name in catalogue.tables) == [
        "empty_one",
        "items",
        "part",
        "we`ird; drop",
    ]
    assert catalogue.rows is None and catalogue.encoding == "utf-8"


def test_is_empty_and_create_database(mariadb_database: str) -> None:
    spec = mariadb_spec(mariadb_database)
    assert ENGINE.is_empty(spec)
    load_sample(spec)
    assert not ENGINE.is_empty(spec)
    with pytest.raises(EngineError) as raised:
        ENGINE.create_database(spec)
    assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST


# --- dump and restore -----------------------------------------------------------------------


def test_round_trip_with_a_password_user(
    mariadb_database: str, mariadb_user: tuple[str, str], tmp_path: Path
) -> None:
    user, password = mariadb_user
    source = mariadb_spec(mariadb_database, username=user, password=password)
    load_sample(source)  # as the user: routines it defines are routines it may dump
    with ENGINE.dump_command(source, tmp_path) as command:
        defaults = Path(command.argv[1].removeprefix("--defaults-file="))
        assert defaults.stat().st_mode & 0o777 == 0o600
        assert command.argv[-2:] == ["--", mariadb_database]
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    assert not defaults.exists()
    assert dump.cmdlines, "the dump process was never sampled while running"
    assert all(password.encode() not in line for line in dump.cmdlines)
    assert COMPLETION_MARKER in dump.path.read_bytes()[-512:]

    target = mariadb_spec(f"r_{mariadb_database}", username=user, password=password)
    ENGINE.create_database(target)
    with ENGINE.restore_command(target, tmp_path) as command:
        returncode, stderr = run_restore(command, dump.path)
    assert returncode == 0, stderr
    assert ENGINE.manifest(target).tables == ENGINE.manifest(source).tables
    checksums = table_checksums(source)
    assert len(checksums) == 3 and None not in checksums.values()
    assert table_checksums(target) == checksums
    assert not list(tmp_path.glob(".my.cnf-*"))


def test_dump_with_a_wrong_password_fails_without_echoing_it(
    mariadb_database: str, tmp_path: Path
) -> None:
    wrong = "wrong-" + unique_name("")
    with ENGINE.dump_command(mariadb_spec(mariadb_database, password=wrong), tmp_path) as cmd:
        dump = run_dump(cmd, tmp_path / "dump.sql")
    assert dump.returncode != 0
    assert b"Access denied" in dump.stderr
    assert wrong.encode() not in dump.stderr


@pytest.mark.parametrize("name", ["-oops", "x; drop", "--help", "a`b", "", "a'b"])
def test_bad_database_names_are_refused_before_any_command(name: str, tmp_path: Path) -> None:
    spec = mariadb_spec(name)
    assert_commands_refused(ENGINE, spec, tmp_path)
    with pytest.raises(EngineError):
        ENGINE.manifest(spec)


# --- option file and flavours ---------------------------------------------------------------

MYSQL_CLIENT = ResolvedTool("mysqldump", Path("/x/mysqldump"), "mysqldump  Ver 8.0.36 for Linux")
MARIADB_CLIENT = ResolvedTool(
    "mariadb-dump", Path("/x/mariadb-dump"), "Ver 10.19 Distrib 10.11.19-MariaDB"
)


@pytest.mark.parametrize(
    ("mode", "mariadb_lines", "mysql_line"),
    [
        (TlsMode.DISABLE, ["skip-ssl"], "ssl-mode=DISABLED"),
        (TlsMode.PREFER, ["ssl"], "ssl-mode=PREFERRED"),
        (TlsMode.REQUIRE, ["ssl", "ssl-verify-server-cert"], "ssl-mode=REQUIRED"),
        (TlsMode.VERIFY_FULL, ["ssl", "ssl-verify-server-cert"], "ssl-mode=VERIFY_IDENTITY"),
    ],
)
def test_tls_options_per_client_flavour(
    mode: TlsMode, mariadb_lines: list[str], mysql_line: str
) -> None:
    spec = mariadb_spec("db", tls_mode=mode, password=AWKWARD_PASSWORD)
    mariadb_text = defaults_file_text(spec, MARIADB_CLIENT).splitlines()
    assert mariadb_text[-len(mariadb_lines) :] == mariadb_lines
    assert defaults_file_text(spec, MYSQL_CLIENT).splitlines()[-1] == mysql_line
    assert 'password="Pa:ss\\\\w\\"o#rd $x y €uro-pässwörd"' in mariadb_text


def test_mysql_client_gets_its_own_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mysql, "find_any", lambda names: MYSQL_CLIENT)
    with MySqlEngine(Engine.MYSQL).dump_command(mariadb_spec("db"), tmp_path) as command:
        assert "--set-gtid-purged=OFF" in command.argv
        assert "--column-statistics=0" in command.argv
        assert command.argv[1].startswith("--defaults-file=")
    monkeypatch.undo()
    with ENGINE.dump_command(mariadb_spec("db"), tmp_path) as command:
        assert "--set-gtid-purged=OFF" not in command.argv
        assert "--column-statistics=0" not in command.argv


def test_mysql_has_no_shared_snapshot() -> None:
    assert not isinstance(ENGINE, SnapshotDumper)


def test_identifier_quoting() -> None:
    assert quote_identifier("a`b") == "`a``b`"


def test_flavour_options_follow_the_binary_not_its_name(
    mariadb_database: str, tmp_path: Path
) -> None:
    """Here mysqldump is MariaDB's under another name: MySQL-only options would break it."""
    engine = MySqlEngine(Engine.MYSQL)
    with engine.dump_command(mariadb_spec(mariadb_database), tmp_path) as command:
        assert Path(command.argv[0]).name == "mysqldump"
        assert "--set-gtid-purged=OFF" not in command.argv
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr


def test_the_defaults_file_names_a_bundled_plugin_folder() -> None:
    spec = mariadb_spec("db")
    bundled = ResolvedTool(
        "mariadb",
        Path("/app/tools/bin/mariadb"),
        MARIADB_CLIENT.version,
        {},
        "app",
        Path("/app/tools/lib/plugin"),
    )
    assert 'plugin-dir="/app/tools/lib/plugin"' in defaults_file_text(spec, bundled).splitlines()
    assert "plugin-dir" not in defaults_file_text(spec, MARIADB_CLIENT)


def test_the_client_loads_auth_plugins_from_the_bundled_folder(tmp_path: Path) -> None:
    """The real client, asked to start with a plugin it must load from disk, loads it
    from the folder the defaults file names (the dynamic loader reports each dlopen)."""
    plugins = tmp_path / "plugin"
    plugins.mkdir()
    shutil.copy(SYSTEM_PLUGINS / "client_ed25519.so", plugins)
    client = mysql.find_any(["mariadb"])
    tool = ResolvedTool(client.name, client.path, client.version, client.env, "app", plugins)
    with private_file(tmp_path, "my.cnf", defaults_file_text(mariadb_spec(""), tool)) as cnf:
        argv = [str(tool.path), f"--defaults-file={cnf}", "--default-auth=client_ed25519"]
        result = subprocess.run(
            [*argv, "--batch", "-e", "SELECT 1"],
            capture_output=True,
            check=False,
            timeout=30,
            env={**os.environ, **tool.env, "LD_DEBUG": "files"},
        )
    assert result.returncode == 0, result.stderr
    loaded = f"file={plugins / 'client_ed25519.so'} ".encode()
    assert loaded in result.stderr
