"""Fixtures for the real services every test suite here talks to.

PostgreSQL 15 and MariaDB 10.11 run on the machine; Azurite is started by `make test`
(scripts/services.sh) on the ports in AZURITE_*_PORT. Tests create uniquely named
databases, roles and containers and drop them afterwards.
"""

from __future__ import annotations

import base64
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_connection_string() -> str:
    blob = os.environ.get("AZURITE_BLOB_PORT", "10100")
    queue = os.environ.get("AZURITE_QUEUE_PORT", "10101")
    table = os.environ.get("AZURITE_TABLE_PORT", "10102")
    base = "http://127.0.0.1"
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob}/devstoreaccount1;"
        f"QueueEndpoint={base}:{queue}/devstoreaccount1;"
        f"TableEndpoint={base}:{table}/devstoreaccount1;"
    )


def app_environment(table_prefix: str, container: str, **extra: str) -> dict[str, str]:
    """What the app reads to run against the test's tables and container (local secrets
    under a fresh key, short connection timeouts); `extra` adds or overrides."""
    return {
        "BACKUP_STORAGE_CONNECTION_STRING": azurite_connection_string(),
        "TABLE_PREFIX": table_prefix,
        "BACKUP_CONTAINER": container,
        "SECRET_STORE": "local",
        "LOCAL_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CONNECT_TIMEOUT_SECONDS": "3",
        "AUTH_MODE": "development",
        # Azurite has no version-level immutability: with it on, a backup of an immutable
        # tier fails before dumping (as local.settings.example.json, tests turn it off;
        # tests of immutability turn it on, with the blobs on tests/storage/blob_standin.py).
        "IMMUTABILITY": "off",
        **extra,
    }


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serves a small aiohttp app (a webhook receiver, a key set) on a free loopback
    port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def unique_name(prefix: str) -> str:
    """A lower-case name that is safe as a database, role, table or container name."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def storage_connection_string() -> str:
    return azurite_connection_string()


@pytest.fixture
def blob_container(storage_connection_string: str) -> Iterator[str]:
    """A fresh blob container in Azurite, deleted afterwards."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(storage_connection_string)
    name = unique_name("test-")
    service.create_container(name)
    yield name
    service.delete_container(name)


@pytest.fixture
def metrics() -> Iterator[Any]:
    """What the app's instruments record during the test, read from an in-memory reader
    (tests/telemetry/metrics.py); nothing is exported."""
    from tests.telemetry.metrics import recording

    with recording() as recorded:
        yield recorded


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[Any]:
    """An Azurite of the test's own (tests/azurite.py): empty, on free ports, stoppable."""
    from tests.azurite import OwnAzurite

    azurite = OwnAzurite(tmp_path / "azurite")
    azurite.start()
    yield azurite
    azurite.stop()


@pytest.fixture
def table_prefix() -> str:
    """A unique prefix for Table Storage tables used by one test (letters and digits only)."""
    return unique_name("t")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A new empty database on the machine's PostgreSQL 15, dropped afterwards."""
    import psycopg

    name = unique_name("pg_")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as conn:
        conn.autocommit = True
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as conn:
        conn.autocommit = True
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mariadb_database() -> Iterator[str]:
    """A new empty database on the machine's MariaDB, dropped afterwards."""
    import pymysql

    name = unique_name("my_")
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield name
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def seq_scans(conn: psycopg.Connection, database: str) -> dict[str, int]:
    """Sequential scans of each table of `database` (which `conn`, autocommit, is on), once
    every other session of it has ended: a session reports its statistics as it ends."""
    for _ in range(100):
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
        if others is not None and not others[0]:
            break
        time.sleep(0.05)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute("SELECT relname, seq_scan FROM pg_stat_user_tables").fetchall()
    return {str(name): int(scans) for name, scans in rows}
