r"""The row counts of real pg_dump and mariadb-dump output, for databases whose schema holds
text that reads like data: a COPY block (TOC comment, header, rows, `\.`) or a LOCK TABLES
section with its INSERTs inside function, trigger, procedure, event and view bodies, in
strings of every kind and in comments. The manifest of a backup must list exactly the
source's tables, each with count(*) rows: no phantom rows, no phantom table."""

from __future__ import annotations

import psycopg
import pymysql
from psycopg import sql

from shared.engines.base import ConnectionSpec
from shared.engines.registry import engine_for
from shared.models import Engine, TlsMode
from shared.pipeline.dump import run_backup
from shared.pipeline.results import BackupOutcome, PipelineOptions
from shared.storage.blobs import AzureBlobStore
from tests.conftest import unique_name


def backup(engine: Engine, database: str, store: AzureBlobStore) -> BackupOutcome:
    postgres = engine is Engine.POSTGRESQL
    spec = ConnectionSpec(
        engine=engine,
        host="127.0.0.1",
        port=5432 if postgres else 3306,
        username="postgres" if postgres else "root",
        database=database,
        tls_mode=TlsMode.DISABLE,
    )
    return run_backup(
        engine_for(engine),
        spec,
        store,
        record_id="rec",
        server_id="srv",
        database_id="db",
        # Small chunks: the schema's strings and comments are cut across many of them.
        options=PipelineOptions(block_size=64 * 1024, read_chunk_size=64 * 1024),
        blob_name=f"counts/{unique_name('b')}.sql.zst",
    )


# --- PostgreSQL ------------------------------------------------------------------------


def pg_fake(table: str) -> str:
    """A whole data block as pg_dump writes one, for `table`."""
    return (
        f"\n--\n-- Data for Name: {table}; Type: TABLE DATA; Schema: public; Owner: postgres\n"
        f"--\n\nCOPY public.{table} (a) FROM stdin;\n5\n6\n7\n\\.\n\n"
    )


PG_FAKE_T, PG_FAKE_GHOST = pg_fake("t"), pg_fake("ghost")
PG_SCHEMA = [
    "CREATE TABLE t (a int)",
    "INSERT INTO t VALUES (1), (2)",
    f"CREATE TABLE d (a int, s text DEFAULT '{PG_FAKE_T}')",
    "INSERT INTO d (a) SELECT generate_series(1, 3000)",
    'CREATE TABLE "we""ird $$ --" ("it\'s" text)',
    """INSERT INTO "we""ird $$ --" VALUES ('$$'), ('/*'), ('--'), ('\\.')""",
    # Dollar-quoted bodies: $$, and $_$ (pg_dump's tag when the body holds "$$"); a body
    # that is not checked may hold a whole block as it is.
    "SET check_function_bodies = off",
    f"CREATE FUNCTION f1() RETURNS text LANGUAGE sql AS $f${PG_FAKE_T}$f$",
    "SET check_function_bodies = on",
    f"CREATE FUNCTION f2() RETURNS text LANGUAGE sql AS $f$SELECT $$x$$ || '{PG_FAKE_GHOST}'$f$",
    # Comments and quotes inside a body: none of them is the text's own.
    "CREATE FUNCTION f3() RETURNS text LANGUAGE plpgsql AS $f$ BEGIN -- it's /* $_$\n"
    f"RETURN '{PG_FAKE_T}'; /* ' */ END $f$",
    # A standard SQL body is written out of dollar quotes, its strings as '…'.
    f"CREATE FUNCTION f4() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT '{PG_FAKE_GHOST}'; END",
    f"CREATE VIEW v AS SELECT 'it''s {PG_FAKE_T}'::text AS x, 1 AS \"y\"\"\"",
    f"COMMENT ON TABLE t IS 'it''s {PG_FAKE_GHOST}'",
    f"COMMENT ON COLUMN d.s IS '{PG_FAKE_T}'",
]


def pg_counts(database: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema = 'public'"
        ).fetchall()
        return {
            (schema, name): conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
            ).fetchone()[0]
            for schema, name in tables
        }


def test_postgres_counts_ignore_data_lookalikes_in_the_schema(
    postgres_database: str, blob_store: AzureBlobStore
) -> None:
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={postgres_database}"
    with psycopg.connect(dsn) as conn:
        for statement in PG_SCHEMA:
            conn.execute(statement)  # type: ignore[arg-type]
    expected = pg_counts(postgres_database)
    assert expected[("public", "t")] == 2 and len(expected) == 3
    outcome = backup(Engine.POSTGRESQL, postgres_database, blob_store)
    assert {(t.schema_name, t.name): t.rows for t in outcome.manifest.tables} == expected


def test_postgres_counts_with_backslash_escaping_strings(
    postgres_database: str, blob_store: AzureBlobStore
) -> None:
    """With standard_conforming_strings off, pg_dump writes `SET … = off;` and strings in
    which a backslash escapes the next byte ('it\\'s' is one string)."""
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={postgres_database}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET standard_conforming_strings = off").format(
                sql.Identifier(postgres_database)
            )
        )
    with psycopg.connect(dsn) as conn:
        for statement in PG_SCHEMA[:2]:
            conn.execute(statement)  # type: ignore[arg-type]
        # Standard-conforming, "'\'" would close after the backslash and the fake block
        # would stand at the top level.
        fake = PG_FAKE_GHOST.replace("\\", "\\\\")
        conn.execute(f"CREATE VIEW v AS SELECT E'\\\\'' {fake}'::text AS x")  # type: ignore[arg-type]
        conn.execute(f"COMMENT ON TABLE t IS E'\\' {fake}'")  # type: ignore[arg-type]
    outcome = backup(Engine.POSTGRESQL, postgres_database, blob_store)
    assert {(t.schema_name, t.name): t.rows for t in outcome.manifest.tables} == {
        ("public", "t"): 2
    }


# --- MariaDB ---------------------------------------------------------------------------


def my_fake(table: str) -> str:
    """A whole data section as mariadb-dump writes one, for `table`."""
    return (
        f"\nLOCK TABLES `{table}` WRITE;\n"
        f"/*!40000 ALTER TABLE `{table}` DISABLE KEYS */;\n"
        f"INSERT INTO `{table}` VALUES\n(7),\n(8),\n(9);\n"
        f"/*!40000 ALTER TABLE `{table}` ENABLE KEYS */;\nUNLOCK TABLES;\n"
    )


MY_FAKE_LOG, MY_FAKE_GHOST = my_fake("log"), my_fake("ghost")
MY_SCHEMA = [
    "CREATE TABLE t (a INT, s VARCHAR(2000) COMMENT 'multi\nline\n" + MY_FAKE_LOG + "')",
    "CREATE TABLE log (a INT)",
    "INSERT INTO t (a) VALUES (1), (2)",
    "INSERT INTO log VALUES (1), (2), (3)",
    # A name holding a newline and what reads like the end of a section.
    "CREATE TABLE `odd\nUNLOCK TABLES;\nx` (a INT)",
    "INSERT INTO `odd\nUNLOCK TABLES;\nx` VALUES (1)",
    # Comments of each kind (the server keeps them in a body), strings of each kind.
    "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN\n"
    "  -- a comment's quote ' here\n  # and here '\n  /* and ' here */\n"
    f"  SET NEW.s = CONCAT('{MY_FAKE_LOG}', \"dq \\\" it's\", 'esc \\' ', `NEW`.s);\n"
    "  INSERT INTO log VALUES (1),(2);\nEND",
    f"CREATE PROCEDURE p()\nBEGIN\n  SELECT '{MY_FAKE_GHOST}';\n"
    "  INSERT INTO log VALUES (3),(4);\nEND",
    "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DISABLE DO INSERT INTO log VALUES (5),(6)",
    f"CREATE VIEW v AS SELECT '{MY_FAKE_GHOST}' AS x",
    # Made under NO_BACKSLASH_ESCAPES (the dump sets that mode before it): '\' is a whole
    # string; read with backslash escapes, the fake section would stand at the top level.
    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
    "CREATE TRIGGER trg2 AFTER INSERT ON log FOR EACH ROW\n"
    f"SET @x = CONCAT('\\', '{MY_FAKE_GHOST}')",
    "SET SESSION sql_mode = DEFAULT",
]


def my_counts(database: str) -> dict[str, int]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (database,),
            )
            names = [row[0] for row in cursor.fetchall()]
            counts = {}
            for name in names:
                quoted = "`" + name.replace("`", "``") + "`"
                cursor.execute(f"SELECT count(*) FROM `{database}`.{quoted}")
                counts[name] = cursor.fetchone()[0]
    finally:
        conn.close()
    return counts


def test_mariadb_counts_ignore_data_lookalikes_in_the_schema(
    mariadb_database: str, blob_store: AzureBlobStore
) -> None:
    conn = pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=mariadb_database
    )
    try:
        with conn.cursor() as cursor:
            for statement in MY_SCHEMA:
                cursor.execute(statement)
    finally:
        conn.close()
    expected = my_counts(mariadb_database)
    assert expected == {"t": 2, "log": 3, "odd\nUNLOCK TABLES;\nx": 1}
    outcome = backup(Engine.MARIADB, mariadb_database, blob_store)
    assert {t.name: t.rows for t in outcome.manifest.tables} == expected
