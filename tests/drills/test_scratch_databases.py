"""Dropping a drill's scratch database, engine by engine: on the real PostgreSQL and MariaDB
(with a session still open on it), and SQL Server at its seam (the statements built; what a
real SQL Server does with them is NOT verified here)."""

from __future__ import annotations

import psycopg

from shared.engines.base import ConnectionSpec
from shared.engines.mysql import MySqlEngine
from shared.engines.postgres import PostgresEngine
from shared.models import Engine, TlsMode
from tests.conftest import unique_name
from tests.drills.drill_support import PG, mariadb_databases, pg_databases
from tests.engines.test_sqlserver import FakeServer, engine_with, sql_spec


def pg_spec(database: str) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.POSTGRESQL, host="127.0.0.1", port=5432, username="postgres",
        database=database, tls_mode=TlsMode.DISABLE,
    )  # fmt: skip


def maria_spec(database: str) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.MARIADB, host="127.0.0.1", port=3306, username="root",
        database=database, tls_mode=TlsMode.DISABLE,
    )  # fmt: skip


def test_postgres_drops_a_scratch_database_even_with_a_session_open_on_it() -> None:
    name = unique_name("dilux_drill_t_")
    engine = PostgresEngine()
    engine.create_database(pg_spec(name))
    holder = psycopg.connect(PG.format(name))  # a restore left hanging, say
    try:
        engine.drop_database(pg_spec(name))
        assert name not in pg_databases()
        engine.drop_database(pg_spec(name))  # gone already: nothing happens
    finally:
        holder.close()


def test_mariadb_drops_a_scratch_database_and_a_missing_one_is_no_error() -> None:
    name = unique_name("dilux_drill_t_")
    engine = MySqlEngine()
    engine.create_database(maria_spec(name))
    assert name in mariadb_databases()
    engine.drop_database(maria_spec(name))
    assert name not in mariadb_databases()
    engine.drop_database(maria_spec(name))


def test_sqlserver_ends_the_sessions_then_drops_only_a_database_that_exists() -> None:
    server = FakeServer(answers={"sys.databases WHERE name": [(1,)]})
    engine_with(server).drop_database(sql_spec("dilux_drill_x_1"))
    statements = [statement for statement, _ in server.executed]
    assert (
        statements[-2] == "ALTER DATABASE [dilux_drill_x_1] SET SINGLE_USER WITH ROLLBACK IMMEDIATE"
    )
    assert statements[-1] == "DROP DATABASE [dilux_drill_x_1]"
    assert "Database={master}" in server.connections[0][0]
    absent = FakeServer()
    engine_with(absent).drop_database(sql_spec("dilux_drill_x_1"))
    assert not any("DROP" in statement for statement, _ in absent.executed)
