"""Small model factories for the storage tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.models import BackupRecord, Database, Policy, Server


def server(id: str, **changes: Any) -> Server:
    fields: dict[str, Any] = {
        "id": id,
        "name": f"Server {id}",
        "engine": "postgresql",
        "host": "db.example.com",
        "port": 5432,
        "username": "backup",
    }
    return Server(**{**fields, **changes})


def database(id: str, server_id: str, **changes: Any) -> Database:
    fields: dict[str, Any] = {"id": id, "server_id": server_id, "name": f"db_{id}"}
    return Database(**{**fields, **changes})


def policy(id: str, **changes: Any) -> Policy:
    fields: dict[str, Any] = {
        "id": id,
        "name": f"Policy {id}",
        "timezone": "Europe/Madrid",
        "daily": {"keep_count": 7, "time": "03:30"},
        "monthly": {"keep_count": 12, "day": 31},
    }
    return Policy(**{**fields, **changes})


def record(id: str, database_id: str, created_at: datetime, **changes: Any) -> BackupRecord:
    fields: dict[str, Any] = {
        "id": id,
        "database_id": database_id,
        "server_id": "srv",
        "created_at": created_at,
    }
    return BackupRecord(**{**fields, **changes})
