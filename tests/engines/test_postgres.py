"""PostgreSQL engine against the machine's PostgreSQL 15 and a throwaway PostgreSQL 18."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from shared.engines import postgres, tools
from shared.engines.base import (
    ConnectionErrorKind,
    ConnectionSpec,
    EngineError,
    SnapshotDumper,
    ToolCommand,
)
from shared.engines.postgres import COMPLETION_MARKER, PostgresEngine, classify_message
from shared.models import Engine, TlsMode
from shared.pipeline.manifests import dump_manifest
from shared.pipeline.process import OutputAfterMarker
from shared.pipeline.row_counts import PostgresRowCounter
from tests.conftest import seq_scans, unique_name
from tests.engines.conftest import (
    AWKWARD_PASSWORD,
    Pg18,
    assert_commands_refused,
    changed,
    pg15_spec,
    run_dump,
    run_restore,
)

ENGINE = PostgresEngine()

# Awkward content: quoted identifiers, binary, unicode, NULLs, large text, a view, a
# function, a trigger, sequences and a partitioned table.
SAMPLE_SCHEMA = r'''
CREATE SCHEMA "Odd ""Schema""";
CREATE TABLE "Odd ""Schema"""."weird.name; drop" (id serial PRIMARY KEY, note text);
INSERT INTO "Odd ""Schema"""."weird.name; drop" (note) VALUES ('a'), (NULL), ('c');
CREATE TABLE items (
    id bigserial PRIMARY KEY, label text NOT NULL, payload bytea, big text, touched int DEFAULT 0
);
INSERT INTO items (label, payload, big)
SELECT 'ünïcødé ✓ ' || g, decode(md5(g::text), 'hex') || '\x00ff'::bytea,
       CASE WHEN g % 10 = 0 THEN NULL ELSE repeat(md5(g::text), 40) END
FROM generate_series(1, 1500) AS g;
CREATE VIEW item_labels AS SELECT id, label FROM items;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE events (at date NOT NULL, what text) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events VALUES ('2026-05-01', 'x'), ('2026-06-01', NULL);
CREATE TABLE empty_one (x int);
'''


def _conn(spec: ConnectionSpec) -> psycopg.Connection:
    return psycopg.connect(
        host=spec.host,
        port=spec.port,
        user=spec.username,
        password=spec.password.get_secret_value() or None,
        dbname=spec.database,
        autocommit=True,
    )


def content_digests(spec: ConnectionSpec) -> dict[str, str]:
    """An ordered checksum of every table's rows, by table."""
    digests = {}
    with _conn(spec) as conn:
        for table in ENGINE.manifest(spec).tables:
            ident = psycopg.sql.Identifier(table.schema_name or "public", table.name)
            query = psycopg.sql.SQL(
                "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
            ).format(ident)
            digests[f"{table.schema_name}.{table.name}"] = conn.execute(query).fetchone()[0]
    return digests


def load_sample(spec: ConnectionSpec) -> None:
    with _conn(spec) as conn:
        conn.execute(SAMPLE_SCHEMA)


# --- connection test ----------------------------------------------------------------------


def test_connection_ok_reports_version(postgres_database: str) -> None:
    result = ENGINE.test_connection(pg15_spec(postgres_database))
    assert result.ok and result.server_version and result.server_version.startswith("15.")
    assert result.latency_ms is not None and result.latency_ms >= 0


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"database": "no_such_db_x1"}, ConnectionErrorKind.DATABASE_MISSING),
        ({"port": 1}, ConnectionErrorKind.UNREACHABLE),
        ({"host": "no-such-host.invalid"}, ConnectionErrorKind.UNREACHABLE),
        ({"tls_mode": TlsMode.REQUIRE}, ConnectionErrorKind.TLS),
    ],
)
def test_connection_failures_on_pg15(changes: dict[str, object], kind: ConnectionErrorKind) -> None:
    spec = changed(pg15_spec("postgres"), **changes)
    result = ENGINE.test_connection(spec)
    assert not result.ok
    assert result.error_kind is kind, result.message
    assert result.message


def test_a_silent_server_is_a_timeout(silent_port: int) -> None:
    spec = pg15_spec("postgres", port=silent_port, connect_timeout_seconds=1)
    result = ENGINE.test_connection(spec)
    assert result.error_kind is ConnectionErrorKind.TIMEOUT, result.message


def test_wrong_password_is_auth_failed_and_never_echoed(pg18: Pg18, pg18_database: str) -> None:
    wrong = "Wrong:pass\\word-" + unique_name("")
    result = ENGINE.test_connection(pg18.spec(pg18_database, password=wrong))
    assert result.error_kind is ConnectionErrorKind.AUTH_FAILED, result.message
    assert wrong not in (result.message or "")
    with pytest.raises(EngineError) as raised:
        ENGINE.manifest(pg18.spec(pg18_database, password=wrong))
    assert wrong not in str(raised.value) and wrong not in repr(raised.value.__cause__ or "")


def test_right_password_connects_to_pg18(pg18: Pg18, pg18_database: str) -> None:
    result = ENGINE.test_connection(pg18.spec(pg18_database))
    assert result.ok and result.server_version and result.server_version.startswith("18.")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("connection to server failed: timeout expired", ConnectionErrorKind.TIMEOUT),
        ('FATAL:  password authentication failed for user "x"', ConnectionErrorKind.AUTH_FAILED),
        (
            'no pg_hba.conf entry for host "1.2.3.4", user "u", database "d", no encryption',
            ConnectionErrorKind.TLS,
        ),
        ("something else entirely", ConnectionErrorKind.UNKNOWN),
    ],
)
def test_messages_map_to_kinds(message: str, kind: ConnectionErrorKind) -> None:
    assert classify_message(message) is kind


# --- discovery and manifest ---------------------------------------------------------------


def test_discovery_flags_system_databases(postgres_database: str) -> None:
    found = {d.name: d for d in ENGINE.list_databases(pg15_spec("postgres"))}
    assert found["template1"].is_system and found["postgres"].is_system
    assert not found[postgres_database].is_system
    assert found[postgres_database].size_bytes and found[postgres_database].size_bytes > 0


def test_manifest_counts_every_table_with_odd_names(postgres_database: str) -> None:
    spec = pg15_spec(postgres_database)
    load_sample(spec)
    manifest = ENGINE.manifest(spec)
    counts = {(t.schema_name, t.name): t.rows for t in manifest.tables}
    assert counts == {
        ('Odd "Schema"', "weird.name; drop"): 3,
        ("public", "items"): 1500,
        # A table's own rows, as pg_dump's COPY holds them: the partitioned table has none.
        ("public", "events"): 0,
        ("public", "events_2026"): 2,
        ("public", "empty_one"): 0,
    }
    assert manifest.server_version.startswith("15.")


def test_catalogue_lists_tables_without_reading_them(postgres_database: str) -> None:
    """Metadata only; an extension's own table is set apart (its rows come from CREATE
    EXTENSION on a restore, not from the dump alone)."""
    spec = pg15_spec(postgres_database)
    load_sample(spec)
    with _conn(spec) as conn:
        conn.execute("CREATE TABLE owned_by_extension (x int)")
        conn.execute("ALTER EXTENSION plpgsql ADD TABLE owned_by_extension")
    catalogue = ENGINE.catalogue(spec)
    assert catalogue.tables == [
        ('Odd "Schema"', "weird.name; drop"),
        ("public", "empty_one"),
        ("public", "events"),
        ("public", "events_2026"),
        ("public", "items"),
    ]
    assert catalogue.skipped == {("public", "owned_by_extension")}
    assert catalogue.rows is None and catalogue.encoding == "utf-8"
    assert ("public", "owned_by_extension") not in {
        (t.schema_name, t.name) for t in ENGINE.manifest(spec).tables
    }


def test_is_empty_and_create_database(postgres_database: str) -> None:
    spec = pg15_spec(postgres_database)
    assert ENGINE.is_empty(spec)
    load_sample(spec)
    assert not ENGINE.is_empty(spec)
    with pytest.raises(EngineError) as raised:
        ENGINE.create_database(spec)
    assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST


# --- dump and restore -----------------------------------------------------------------------


def _round_trip(source: ConnectionSpec, target: ConnectionSpec, workdir: Path) -> None:
    with ENGINE.dump_command(source, workdir) as command:
        dump = run_dump(command, workdir / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    assert COMPLETION_MARKER in dump.path.read_bytes()[-4096:]
    ENGINE.create_database(target)
    with ENGINE.restore_command(target, workdir) as command:
        returncode, stderr = run_restore(command, dump.path)
    assert returncode == 0, stderr
    assert ENGINE.manifest(target).tables == ENGINE.manifest(source).tables
    digests = content_digests(source)
    assert len(set(digests.values())) >= 4  # distinct contents, really read
    assert content_digests(target) == digests
    assert not list(workdir.glob(".pgpass-*")), "password file left behind"


def test_pg18_client_dump_restores_into_pg15(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dump by pg_dump 18 holds SET transaction_timeout; a restore into 15 drops it."""
    source = pg15_spec(postgres_database)
    load_sample(source)
    newest = tools.find_postgres_tool("pg_dump", None)
    assert newest.major == 18
    monkeypatch.setattr(postgres, "find_postgres_tool", lambda name, major, **_: newest)
    with ENGINE.dump_command(source, tmp_path) as command:
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    assert b"\nSET transaction_timeout = 0;\n" in dump.path.read_bytes()[:4096]
    monkeypatch.undo()
    target = pg15_spec(unique_name("pg_restored_"))
    ENGINE.create_database(target)
    try:
        with ENGINE.restore_command(target, tmp_path) as command:
            assert command.drop_header_lines == (b"SET transaction_timeout = 0;",)
            returncode, stderr = run_restore(command, dump.path)
        assert returncode == 0, stderr
        assert ENGINE.manifest(target).tables == ENGINE.manifest(source).tables
    finally:
        _drop_pg15(target.database)


def _drop_pg15(name: str) -> None:
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_round_trip_on_pg15(postgres_database: str, tmp_path: Path) -> None:
    source = pg15_spec(postgres_database)
    load_sample(source)
    target = pg15_spec(unique_name("pg_restored_"))
    try:
        _round_trip(source, target, tmp_path)
    finally:
        _drop_pg15(target.database)


def test_round_trip_on_pg18_with_password(pg18: Pg18, pg18_database: str, tmp_path: Path) -> None:
    source = pg18.spec(pg18_database)
    load_sample(source)
    target = pg18.spec(unique_name("pg18_restored_"))
    try:
        _round_trip(source, target, tmp_path)
    finally:
        with pg18.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


def test_pg18_restore_reports_the_rows_its_transaction_inserted(
    pg18: Pg18, pg18_database: str, tmp_path: Path
) -> None:
    """The restore comparison's counts come from psql's own transaction
    (pg_stat_xact_user_tables, read before the commit). On PostgreSQL 18 too, the newest
    major here, they are count(*) of the source table by table, and taking them scans no
    restored table; counting instead (no report) scans each once more."""
    source = pg18.spec(pg18_database)
    load_sample(source)
    with ENGINE.dump_command(source, tmp_path) as command:
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    target = pg18.spec(unique_name("pg18_restored_"))
    ENGINE.create_database(target)
    try:
        with ENGINE.restore_command(target, tmp_path) as command:
            report = _restore_reporting(command, dump.path)
        assert postgres.parse_inserted_rows(report), report
        expected = ENGINE.manifest(source).tables
        scans = _seq_scans(pg18, target.database)
        assert ENGINE.restored_manifest(target, report).tables == expected
        assert _seq_scans(pg18, target.database) == scans
        assert ENGINE.restored_manifest(target, None).tables == expected
        counted = _seq_scans(pg18, target.database)
        assert all(counted[name] == scans[name] + 1 for name in ("items", "weird.name; drop"))
    finally:
        with pg18.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


def _restore_reporting(command: ToolCommand, source: Path) -> bytes | None:
    """Restores `source` as the pipeline does; what psql printed after the command's
    output marker (the transaction's row counts)."""
    header = command.input_filter()
    data = header.feed(source.read_bytes()) + header.flush()
    psql = subprocess.run(
        command.argv, input=data, capture_output=True, env=command.process_env(), check=False
    )
    assert psql.returncode == 0, psql.stderr
    assert command.output_marker is not None
    report = OutputAfterMarker(command.output_marker)
    report.feed(psql.stdout)
    return report.text


def _seq_scans(pg18: Pg18, database: str) -> dict[str, int]:
    with pg18.admin(database) as conn:
        return seq_scans(conn, database)


def test_password_never_on_the_dump_command_line(
    pg18: Pg18, pg18_database: str, tmp_path: Path
) -> None:
    source = pg18.spec(pg18_database)
    load_sample(source)  # ~1.3 MB of dump: more than a pipe buffer, so it runs while sampled
    with ENGINE.dump_command(source, tmp_path) as command:
        assert all(AWKWARD_PASSWORD not in part for part in command.argv)
        assert all(AWKWARD_PASSWORD not in value for value in command.env.values())
        passfile = Path(command.env["PGPASSFILE"])
        assert passfile.stat().st_mode & 0o777 == 0o600
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    assert dump.cmdlines, "the dump process was never sampled while running"
    assert all(AWKWARD_PASSWORD.encode() not in line for line in dump.cmdlines)
    assert all(pg18_database.encode() not in line for line in dump.cmdlines)
    assert not passfile.exists()


def test_dump_with_a_wrong_password_fails_before_running(
    pg18: Pg18, pg18_database: str, tmp_path: Path
) -> None:
    wrong = "nope-" + unique_name("")
    with (
        pytest.raises(EngineError) as raised,
        ENGINE.dump_command(pg18.spec(pg18_database, password=wrong), tmp_path),
    ):
        pass
    assert raised.value.kind is ConnectionErrorKind.AUTH_FAILED
    assert wrong not in str(raised.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["-oops", "x; drop", "--help", "a'b", "", "a=b", "a/b"])
def test_bad_database_names_are_refused_before_any_command(name: str, tmp_path: Path) -> None:
    spec = pg15_spec(name)
    assert_commands_refused(ENGINE, spec, tmp_path)
    with pytest.raises(EngineError):
        ENGINE.create_database(spec)


def test_database_name_travels_in_the_environment_only(tmp_path: Path) -> None:
    name = unique_name("with space ")
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        with ENGINE.dump_command(pg15_spec(name), tmp_path) as command:
            assert command.env["PGDATABASE"] == name
            assert name not in command.argv
            # No password: PGPASSFILE names a file that does not exist, so no ~/.pgpass.
            assert not Path(command.env["PGPASSFILE"]).exists()
            dump = run_dump(command, tmp_path / "dump.sql")
        assert dump.returncode == 0, dump.stderr
    finally:
        _drop_pg15(name)


def test_pg15_is_dumped_by_a_pg_dump_of_its_own_major(postgres_database: str) -> None:
    """pg_dump 18 writes SET transaction_timeout, which PostgreSQL 15 rejects."""
    manifest = ENGINE.manifest(pg15_spec(postgres_database))
    assert "pg_dump (PostgreSQL) 15" in manifest.tool_version


# --- one snapshot for the catalogue and the dump ------------------------------------------


def test_snapshot_dump_matches_its_catalogue_while_rows_are_written(
    postgres_database: str, tmp_path: Path
) -> None:
    source = pg15_spec(postgres_database)
    load_sample(source)
    assert isinstance(ENGINE, SnapshotDumper)
    with ENGINE.dump_with_catalogue(source, tmp_path, count_rows=True) as (reading, command):
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={postgres_database}") as c:
            c.execute("INSERT INTO items (label) SELECT 'late' FROM generate_series(1, 100)")
            c.execute("CREATE TABLE created_after (x int)")
        assert any(part.startswith("--snapshot=") for part in command.argv)
        dump = run_dump(command, tmp_path / "dump.sql")
        catalogue = reading.read()  # after the dump, still in its snapshot
    assert dump.returncode == 0, dump.stderr
    assert catalogue.rows is not None
    manifest = catalogue.manifest(Engine.POSTGRESQL, postgres_database, catalogue.rows)
    live = {t.name: t.rows for t in ENGINE.manifest(source).tables}
    assert live["items"] == 1600 and "created_after" in live  # the writes happened...
    assert catalogue.rows[("public", "items")] == 1500  # ...after the snapshot
    assert ("public", "created_after") not in catalogue.tables
    counter = PostgresRowCounter()
    counter.feed(dump.path.read_bytes())
    dumped = dump_manifest(Engine.POSTGRESQL, postgres_database, catalogue, counter.tables())
    assert dumped == manifest  # the dump's own counts are the snapshot's
    target = pg15_spec(unique_name("pg_restored_"))
    ENGINE.create_database(target)
    try:
        with ENGINE.restore_command(target, tmp_path) as restore:
            returncode, stderr = run_restore(restore, dump.path)
        assert returncode == 0, stderr
        assert ENGINE.manifest(target).tables == manifest.tables
    finally:
        _drop_pg15(target.database)


def test_query_errors_become_engine_errors(pg18: Pg18, pg18_database: str) -> None:
    with pg18.admin(pg18_database) as conn:
        conn.execute("CREATE TABLE private_to_admin (x int)")
    with pytest.raises(EngineError) as raised:
        ENGINE.manifest(pg18.spec(pg18_database))
    assert "permission denied" in raised.value.message


def test_copy_data_that_reads_like_restrict_lines_is_restored_as_it_is(
    postgres_database: str, tmp_path: Path
) -> None:
    """A value that starts with a carriage return is a COPY line starting `\\restrict`:
    data, which psql does not read as a meta-command and the restore must not leave out
    (only the dump's own lines above its first statement and below its last are)."""
    source = pg15_spec(postgres_database)
    with _conn(source) as conn:
        conn.execute("CREATE TABLE meta_like (id int PRIMARY KEY, v text)")
        conn.execute(
            "INSERT INTO meta_like VALUES"
            " (1, E'\\restrict abc'), (2, E'\\restrict'), (3, E'\\\\unrestrict abc')"
        )
    with ENGINE.dump_command(source, tmp_path) as command:
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    assert b"\n1\t\\restrict abc\n" in dump.path.read_bytes()
    target = pg15_spec(unique_name("pg_restored_"))
    ENGINE.create_database(target)
    try:
        with ENGINE.restore_command(target, tmp_path) as command:
            returncode, stderr = run_restore(command, dump.path)
        assert returncode == 0, stderr
        with _conn(target) as conn:
            rows = conn.execute("SELECT id, v FROM meta_like ORDER BY id").fetchall()
        assert rows == [(1, "\restrict abc"), (2, "\restrict"), (3, "\\unrestrict abc")]
    finally:
        _drop_pg15(target.database)
