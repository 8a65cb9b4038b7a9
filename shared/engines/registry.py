"""The engine for each kind of server."""

from __future__ import annotations

from shared.engines import mysql, postgres, sqlserver
from shared.engines.base import DatabaseEngine
from shared.engines.mysql import MySqlEngine
from shared.engines.postgres import PostgresEngine
from shared.engines.sqlserver import SqlServerEngine
from shared.models import Engine

# The servers' own databases, of every engine: never a restore target, whatever the
# target's engine (names compare without case, as MySQL and SQL Server often do).
SYSTEM_DATABASES = postgres.SYSTEM_DATABASES | mysql.SYSTEM_DATABASES | sqlserver.SYSTEM_DATABASES


def is_system_database(name: str) -> bool:
    return name.lower() in SYSTEM_DATABASES


def engine_for(engine: Engine) -> DatabaseEngine:
    """A ready engine object (they hold no state, so a fresh one each time is fine)."""
    if engine is Engine.POSTGRESQL:
        return PostgresEngine()
    if engine in (Engine.MYSQL, Engine.MARIADB):
        return MySqlEngine(engine)
    if engine is Engine.SQLSERVER:
        return SqlServerEngine()
    raise ValueError(f"unknown engine {engine!r}")
