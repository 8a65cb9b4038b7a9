"""How models become entities: types kept, secrets refused, no password column."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.data.tables import TableServiceClient

from shared.models import AuditEntry, Model
from shared.storage import Repositories, SecretFieldError
from shared.storage.codec import from_entity, to_entity
from tests.storage.samples import database, record, server


class WithPassword(Model):
    id: str
    password: str


class WithApiKey(Model):
    id: str
    api_key: str


class WithConnectionString(Model):
    id: str
    connection_string: str


def test_a_secret_looking_field_is_never_stored() -> None:
    with pytest.raises(SecretFieldError):
        to_entity(WithPassword(id="x", password="hunter2"), "p", "r")
    with pytest.raises(SecretFieldError):
        to_entity(WithApiKey(id="x", api_key="k"), "p", "r")
    # The audit log's list of secret names applies here too.
    with pytest.raises(SecretFieldError):
        to_entity(WithConnectionString(id="x", connection_string="AccountKey=k"), "p", "r")


def test_datetimes_are_stored_in_utc() -> None:
    madrid = timezone(timedelta(hours=2))
    entity = to_entity(record("r1", "db", datetime(2026, 6, 1, 14, 0, tzinfo=madrid)), "p", "r")
    assert entity["created_at"] == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    naive = to_entity(record("r1", "db", datetime(2026, 6, 1, 14, 0)), "p", "r")
    assert naive["created_at"] == datetime(2026, 6, 1, 14, 0, tzinfo=UTC)


def test_unknown_columns_are_ignored_when_reading() -> None:
    entity = to_entity(server("a"), "server", "a")
    entity["column_from_a_newer_version"] = "whatever"
    assert from_entity(type(server("a")), entity) == server("a")


def test_no_password_column_in_any_stored_entity(
    repos: Repositories, table_service: TableServiceClient, table_prefix: str
) -> None:
    repos.servers.create(server("pg-1", has_password=True))
    repos.databases.create(
        database("d-1", "pg-1", use_server_credentials=False, username="app", has_password=True)
    )
    repos.backups.create(record("r1", "d-1", datetime(2026, 1, 1, tzinfo=UTC)))

    tables = [t.name for t in table_service.list_tables() if t.name.startswith(table_prefix)]
    assert len(tables) == 3  # created lazily: only what was written to
    columns: set[str] = set()
    for name in tables:
        for entity in table_service.get_table_client(name).list_entities():
            columns.update(entity.keys())
    assert "has_password" in columns
    assert [c for c in columns if "password" in c.lower() and c != "has_password"] == []
    assert not any("secret" in c.lower() for c in columns)


def test_a_field_beyond_an_entity_is_refused_clearly() -> None:
    audit = AuditEntry(
        id="a1",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        actor="x",
        action="server.update",
        resource="servers/a",
        details={"noise": os.urandom(1_000_000).hex()},
    )
    with pytest.raises(ValueError, match="'details' is too large to store"):
        to_entity(audit, "p", "r")
