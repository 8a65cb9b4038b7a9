"""PostgreSQL 15 (the machine's) → pg_dump → Azurite → verify → psql into a new database,
compared table by table: row counts and an ordered content checksum computed in SQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import psycopg
import pytest
import zstandard
from psycopg import sql

from shared.engines.base import ConnectionSpec
from shared.engines.registry import engine_for
from shared.models import DumpManifest, Engine, TlsMode
from shared.pipeline.dump import run_backup
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import BackupOutcome, PipelineOptions, RestoreFailed, RestoreOutcome
from shared.pipeline.verify import verify_backup
from shared.storage.blobs import AzureBlobStore
from tests.conftest import seq_scans, unique_name

MARKER = b"-- PostgreSQL database dump complete"
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

AWKWARD_SCHEMA = r"""
CREATE TABLE bin (id serial PRIMARY KEY, data bytea);
INSERT INTO bin (data)
  SELECT decode(string_agg(lpad(to_hex(b), 2, '0'), '' ORDER BY b), 'hex')
  FROM generate_series(0, 255) b;
INSERT INTO bin (data) VALUES (NULL), ('\x00'::bytea), (''::bytea);

CREATE TABLE txt (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text, note text);
INSERT INTO txt (body, note) VALUES
  ('emoji 😀 👩‍👩‍👧 🏳️‍🌈', 'astral'),
  ('RTL مرحبا بالعالم שלום', NULL),
  ('combining é ñ ﬁ Å', 'nfd'),
  (E'tab\there\nnew line\\backslash ''quote'' "dq" \r cr', 'escapes'),
  (NULL, NULL),
  ('', '');
INSERT INTO txt (body, note)
  SELECT string_agg(md5(i::text), '' ORDER BY i), 'large' FROM generate_series(1, 150000) i;

CREATE SCHEMA other;
CREATE TABLE other.nums (n numeric, f double precision, d date, ts timestamptz, j jsonb);
INSERT INTO other.nums VALUES
  (123456789.123456789, 'NaN', '2024-02-29', '2024-02-29 12:00:00+00', '{"a": [1, null, "☃"]}'),
  (-0.0000001, '-Infinity', 'infinity', NULL, 'null');

CREATE SEQUENCE counter START 100;
SELECT nextval('counter'), nextval('counter'), nextval('counter');

CREATE TABLE audit (id serial PRIMARY KEY, txt_id bigint, at_note text);
CREATE FUNCTION log_txt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit (txt_id, at_note) VALUES (NEW.id, coalesce(NEW.note, '∅'));
  RETURN NEW;
END $$;
CREATE TRIGGER txt_audit AFTER INSERT ON txt FOR EACH ROW EXECUTE FUNCTION log_txt();
INSERT INTO txt (body, note) VALUES ('after trigger', 'audited');

CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) || '!' $$;
CREATE VIEW loud AS SELECT id, shout(note) AS note FROM txt WHERE note IS NOT NULL;

-- What a COPY block's end, header or line breaks look like, as data and as quoted names.
CREATE TABLE "Odd ""Name"".x" ("co)l" int, "select" text);
INSERT INTO "Odd ""Name"".x" VALUES
  (1, E'\\.'), (2, E'a\n\\.\nb\n\\.'), (3, E'multi\nline\r\nstring\n\n'),
  (4, E'COPY public.bin (id, data) FROM stdin;\n1\t\\N\n\\.\n'), (5, E'\t\\N\t'), (6, NULL);
CREATE TABLE "new
line" (a int);
INSERT INTO "new
line" VALUES (1), (2);
CREATE TABLE nocols ();
INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES;
CREATE TABLE parent (a int);
CREATE TABLE child (b text) INHERITS (parent);
INSERT INTO parent VALUES (1); INSERT INTO child VALUES (2, 'x'), (3, 'y');
CREATE TABLE parted (k int) PARTITION BY RANGE (k);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (10);
CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (10) TO (20);
INSERT INTO parted SELECT generate_series(0, 14);
CREATE TABLE empty_one (x int);
-- A function body holding a whole COPY block, without the TOC comment of a real one.
CREATE FUNCTION looks_like_data() RETURNS text LANGUAGE sql AS $f$
SELECT $q$
COPY public.bin (id, data) FROM stdin;
1	\\x00
$q$::text
$f$;
"""

TABLES = [
    ("public", "bin"),
    ("public", "txt"),
    ("public", "audit"),
    ("other", "nums"),
    ("public", 'Odd "Name".x'),
    ("public", "new\nline"),
    ("public", "nocols"),
    ("public", "parent"),
    ("public", "child"),
    ("public", "parted"),
    ("public", "parted_low"),
    ("public", "parted_high"),
    ("public", "empty_one"),
]


def connect(database: str) -> psycopg.Connection:
    return psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}")


def table_fingerprint(database: str, table: tuple[str, str]) -> tuple[int, str]:
    """The table's own rows (not its children's): their count and a digest of their text."""
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        " FROM ONLY {} t"
    ).format(sql.Identifier(*table))
    with connect(database) as conn:
        count, digest = conn.execute(query).fetchone()
    return int(count), str(digest)


def spec_for(database: str) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.POSTGRESQL,
        host="127.0.0.1",
        port=5432,
        username="postgres",
        database=database,
        tls_mode=TlsMode.DISABLE,  # the machine's server has no TLS
    )


@pytest.fixture
def pg_target() -> Iterator[str]:
    """A database name nobody uses; dropped afterwards if a test created it."""
    name = unique_name("pgr_")
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def awkward_pg(postgres_database: str) -> str:
    with connect(postgres_database) as conn:
        conn.execute(AWKWARD_SCHEMA)
    return postgres_database


def backup_of(
    database: str, store: AzureBlobStore, snapshot_row_count: bool = False
) -> BackupOutcome:
    return run_backup(
        engine_for(Engine.POSTGRESQL),
        spec_for(database),
        store,
        record_id="rec-pg",
        server_id="local-pg",
        database_id="db-pg",
        blob_name=f"local-pg/db-pg/{unique_name('r')}.sql.zst",
        options=PipelineOptions(block_size=256 * 1024, snapshot_row_count=snapshot_row_count),
    )


def table_scans(database: str) -> dict[str, int]:
    with psycopg.connect(
        f"host=127.0.0.1 port=5432 user=postgres dbname={database}", autocommit=True
    ) as conn:
        return seq_scans(conn, database)


def test_postgres_round_trip_keeps_every_table_byte_for_byte(
    awkward_pg: str, pg_target: str, blob_store: AzureBlobStore
) -> None:
    engine = engine_for(Engine.POSTGRESQL)
    outcome = backup_of(awkward_pg, blob_store)
    assert outcome.raw_bytes > 4_800_000 and outcome.block_count > 1
    dumped = {(t.schema_name, t.name): t.rows for t in outcome.manifest.tables}
    assert set(dumped) == set(TABLES)
    # The rows counted in the dump stream are count(*) on the source, table by table.
    assert dumped == {table: table_fingerprint(awkward_pg, table)[0] for table in TABLES}
    assert dumped[("public", "txt")] == 8 and dumped[("public", "nocols")] == 2
    assert (dumped[("public", "parent")], dumped[("public", "child")]) == (1, 2)
    assert dumped[("public", "parted")] == 0 and dumped[("public", "parted_high")] == 5

    verified = verify_backup(
        blob_store, outcome.blob_name, outcome.sha256, b"-- PostgreSQL database dump complete"
    )
    assert verified.ok, verified.reason

    restored = restore_backup(
        engine,
        spec_for(pg_target),
        blob_store,
        outcome.blob_name,
        outcome.sha256,
        manifest=outcome.manifest,
    )
    assert restored.tables_compared == len(TABLES)
    assert restored.differences == []
    for table in TABLES:
        assert table_fingerprint(pg_target, table) == table_fingerprint(awkward_pg, table), table

    with connect(pg_target) as conn:
        assert conn.execute("SELECT last_value FROM counter").fetchone()[0] == 102
        assert conn.execute("SELECT note FROM loud WHERE note = 'AUDITED!'").fetchone()
        before = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
        new_id = conn.execute("INSERT INTO txt (body) VALUES ('x') RETURNING id").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == before + 1
        assert new_id == 9  # the identity continues after the 8 rows that were dumped


def test_a_backup_reads_each_table_once(awkward_pg: str, blob_store: AzureBlobStore) -> None:
    """pg_dump's COPY is the only read of the data: the rows are counted in its output.
    With MANIFEST_SNAPSHOT_COUNT the database counts them too, a second read."""
    before = table_scans(awkward_pg)
    backup_of(awkward_pg, blob_store)
    once = table_scans(awkward_pg)
    assert {name: once[name] - before[name] for name in ("bin", "nums", "parent")} == {
        "bin": 1,
        "nums": 1,
        "parent": 1,
    }
    checked = backup_of(awkward_pg, blob_store, snapshot_row_count=True)
    twice = table_scans(awkward_pg)
    assert twice["bin"] - once["bin"] == 2
    assert checked.manifest.tables == backup_of(awkward_pg, blob_store).manifest.tables


def test_verify_catches_corruption_and_a_cut_short_postgres_dump(
    awkward_pg: str, blob_store: AzureBlobStore
) -> None:
    outcome = backup_of(awkward_pg, blob_store)
    stored = b"".join(blob_store.read_chunks(outcome.blob_name))
    damaged = bytearray(stored)
    damaged[len(damaged) // 3] ^= 0x01
    blob_store.upload("damaged.sql.zst", bytes(damaged))
    result = verify_backup(blob_store, "damaged.sql.zst", outcome.sha256, MARKER)
    assert not result.ok and "corrupted" in (result.reason or "")

    # A dump that stopped early but still compressed cleanly: only the marker tells.
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(stored)
    assert MARKER in raw[-300:]
    cut = zstandard.ZstdCompressor().compress(raw[: raw.rindex(MARKER)])
    blob_store.upload("cut.sql.zst", cut)
    result = verify_backup(blob_store, "cut.sql.zst", hashlib.sha256(cut).hexdigest(), MARKER)
    assert not result.ok and "incomplete" in (result.reason or "")


def test_postgres_restore_refuses_a_non_empty_target(
    awkward_pg: str, blob_store: AzureBlobStore
) -> None:
    outcome = backup_of(awkward_pg, blob_store)
    with pytest.raises(RestoreFailed) as failure:
        restore_backup(
            engine_for(Engine.POSTGRESQL),
            spec_for(awkward_pg),
            blob_store,
            outcome.blob_name,
            outcome.sha256,
            manifest=outcome.manifest,
        )
    assert "not empty" in failure.value.message
    assert table_fingerprint(awkward_pg, ("public", "txt"))[0] == 8


def test_a_backup_taken_while_rows_are_written_restores_to_its_manifest(
    postgres_database: str, pg_target: str, blob_store: AzureBlobStore
) -> None:
    """The rows are counted in the dump itself, and the tables listed in its own snapshot:
    writes that land meanwhile are in neither, so the restore finds exactly the manifest."""
    with connect(postgres_database) as conn:
        conn.execute("CREATE TABLE busy (id bigserial PRIMARY KEY, body text)")
        conn.execute(
            "INSERT INTO busy (body) SELECT md5(i::text) FROM generate_series(1, 200000) i"
        )
    stop = threading.Event()

    def keep_writing() -> None:
        with psycopg.connect(
            f"host=127.0.0.1 port=5432 user=postgres dbname={postgres_database}", autocommit=True
        ) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO busy (body) SELECT 'late' FROM generate_series(1, 50)")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        # With the database's own count in the dump's snapshot too: the two must agree.
        outcome = backup_of(postgres_database, blob_store, snapshot_row_count=True)
    finally:
        stop.set()
        writer.join()
    dumped = {t.name: t.rows for t in outcome.manifest.tables}["busy"]
    assert dumped >= 200_000
    assert table_fingerprint(postgres_database, ("public", "busy"))[0] > dumped  # writes went on
    restored = restore_backup(
        engine_for(Engine.POSTGRESQL),
        spec_for(pg_target),
        blob_store,
        outcome.blob_name,
        outcome.sha256,
        manifest=outcome.manifest,
    )
    assert restored.differences == []
    assert table_fingerprint(pg_target, ("public", "busy"))[0] == dumped


def restore_of(
    outcome: BackupOutcome,
    target: str,
    store: AzureBlobStore,
    *,
    manifest: DumpManifest | None,
    recount: bool = False,
) -> RestoreOutcome:
    return restore_backup(
        engine_for(Engine.POSTGRESQL),
        spec_for(target),
        store,
        outcome.blob_name,
        outcome.sha256,
        manifest=manifest,
        recount=recount,
    )


def test_the_restore_comparison_reads_no_restored_table_again(
    awkward_pg: str, pg_target: str, blob_store: AzureBlobStore
) -> None:
    """The rows compared are those psql's transaction inserted, as the server counted them
    before the commit: the comparison scans no table. RESTORE_COUNT_ROWS (recount) counts
    every table after the commit instead: one more scan of each, the same answer."""
    outcome = backup_of(awkward_pg, blob_store)
    restored = restore_of(outcome, pg_target, blob_store, manifest=outcome.manifest)
    assert restored.tables_compared == len(TABLES) and restored.differences == []
    from_transaction = table_scans(pg_target)

    recounted_target = unique_name("pgr_")
    try:
        recounted = restore_of(
            outcome, recounted_target, blob_store, manifest=outcome.manifest, recount=True
        )
        assert recounted.differences == []
        after_commit = table_scans(recounted_target)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            drop = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
            conn.execute(sql.SQL(drop).format(sql.Identifier(recounted_target)))
    for name in ("bin", "txt", "nums", "parted_low", "empty_one", 'Odd "Name".x'):
        assert after_commit[name] == from_transaction[name] + 1, name


def test_the_restore_comparison_still_finds_a_difference(
    awkward_pg: str, pg_target: str, blob_store: AzureBlobStore
) -> None:
    """Counts taken from the transaction are compared like counted ones: a manifest that
    expects other rows than the restore inserted is reported, table by table."""
    outcome = backup_of(awkward_pg, blob_store)
    tables = [
        table.model_copy(update={"rows": table.rows + 1}) if table.name == "parted_high" else table
        for table in outcome.manifest.tables
    ]
    expected = outcome.manifest.model_copy(update={"tables": tables})
    restored = restore_of(outcome, pg_target, blob_store, manifest=expected)
    assert [(d.table, d.expected_rows, d.actual_rows) for d in restored.differences] == [
        ("public.parted_high", 6, 5)
    ]


def test_a_server_that_keeps_no_counts_gets_its_tables_counted(
    awkward_pg: str, pg_target: str, blob_store: AzureBlobStore
) -> None:
    """With track_counts off the transaction's counts are all zero: psql's report says
    so, and the tables are counted after the commit instead (no false difference)."""
    outcome = backup_of(awkward_pg, blob_store)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_target)))
        off = "ALTER DATABASE {} SET track_counts = off"
        conn.execute(sql.SQL(off).format(sql.Identifier(pg_target)))
    restored = restore_of(outcome, pg_target, blob_store, manifest=outcome.manifest)
    assert restored.tables_compared == len(TABLES) and restored.differences == []
    with connect(pg_target) as conn:
        assert conn.execute("SHOW track_counts").fetchone()[0] == "off"
