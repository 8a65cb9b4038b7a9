"""Fixtures for running the product app through the emulator: storage, catalog rows, env."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from azure.storage.blob import BlobServiceClient

from shared.models import Database, Engine, Policy, Server, TlsMode
from tests.conftest import app_environment, azurite_connection_string, serving

APP_DIR = Path(__file__).resolve().parents[2]
FAKE_WORKER = "tests.orchestration.fake_worker:FAKE_WORKER"
SCRIPTED_WORKER = "tests.orchestration.fake_worker:SCRIPTED_WORKER"
_APP_PACKAGES = ("function_app", "orchestrators", "activities", "entities", "http_api")


def forget_app_modules() -> None:
    """The emulator imports the app itself; drop copies other tests imported, so module-level
    settings (the watchdog schedule) and per-process caches are read afresh."""
    for name in list(sys.modules):
        if name.split(".")[0] in _APP_PACKAGES:
            del sys.modules[name]
    from shared.settings import reset_settings
    from shared.storage.clients import reset_clients

    reset_settings()
    reset_clients()


@dataclass
class Catalog:
    """Repositories on the test's tables, for arranging servers, databases and policies."""

    env: dict[str, str]

    @property
    def repositories(self) -> Any:
        from shared.settings import load_settings
        from shared.storage.repositories import Repositories

        names = ("BACKUP_STORAGE_CONNECTION_STRING", "TABLE_PREFIX", "BACKUP_CONTAINER")
        settings = load_settings(
            **{name.lower(): self.env[name] for name in names}, secret_store="local"
        )
        return Repositories.from_settings(settings)

    def records(self, database_id: str) -> list[Any]:
        return list(self.repositories.backups.iter_by_database(database_id))


@pytest.fixture
def app_env(table_prefix: str, blob_container: str) -> Iterator[dict[str, str]]:
    forget_app_modules()
    yield app_environment(table_prefix, blob_container)
    forget_app_modules()


@pytest.fixture
def catalog(app_env: dict[str, str]) -> Catalog:
    return Catalog(app_env)


def pg_server(server_id: str, **extra: Any) -> Server:
    """A server row for the machine's PostgreSQL (tests that fake the dump never reach it),
    which has no TLS."""
    local = {"engine": Engine.POSTGRESQL, "host": "127.0.0.1", "port": 5432,
             "username": "postgres", "tls_mode": TlsMode.DISABLE}  # fmt: skip
    return Server(id=server_id, name=server_id, **{**local, **extra})


def one_database_on(catalog: Catalog, policy: Policy) -> None:
    """`policy`, server srv1 (the machine's PostgreSQL) on it and its database db1
    (fake_db): what the tests of one database's loop start from."""
    repositories = catalog.repositories
    repositories.policies.upsert(policy)
    repositories.servers.upsert(pg_server("srv1", default_policy_id=policy.id))
    repositories.databases.upsert(Database(id="db1", server_id="srv1", name="fake_db"))


def mariadb_server(server_id: str, **extra: Any) -> Server:
    """A server row for the machine's MariaDB."""
    local = {"engine": Engine.MARIADB, "port": 3306, "username": "root"}
    return pg_server(server_id, **{**local, **extra})


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.url = ""


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    """A NOTIFY_WEBHOOK_URL receiver; `received` holds the notifications posted."""
    hook = Webhook()

    async def receive(request: web.Request) -> web.Response:
        hook.received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    async with serving(app) as base_url:
        hook.url = f"{base_url}/hook"
        yield hook


def blob_names(container: str) -> set[str]:
    service = BlobServiceClient.from_connection_string(azurite_connection_string())
    return {blob.name for blob in service.get_container_client(container).list_blobs()}
