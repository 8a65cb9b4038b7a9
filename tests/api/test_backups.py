"""A first backup, download, verify, restore and delete, end to end through the emulator
and the real durable client, on the machine's PostgreSQL and Azurite."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import psycopg
import pytest

from shared.models import BackupRecord, BackupStatus, Trigger
from tests.api.conftest import PG, Api, name, repositories

TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


@pytest.fixture
def restore_target() -> Iterator[str]:
    target = name("pg_restored_")
    yield target
    with psycopg.connect(PG.format("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')


async def finished_job(api: Api, accepted: dict, role: str = "reader") -> dict:
    for _ in range(600):
        response = await api.call("GET", accepted["status_url"].removeprefix("/api/"), role)
        assert response.status == 200, response.text
        if response.json()["runtime_status"] in TERMINAL:
            return response.json()
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish")


async def add_database(api: Api, database: str) -> str:
    server = await api.call(
        "POST", "servers",
        json={"name": "pg", "engine": "postgresql", "host": "127.0.0.1", "port": 5432,
              "username": "postgres", "tls_mode": "disable"},
    )  # fmt: skip
    assert server.status == 201
    added = await api.call(
        "POST", f"servers/{server.json()['id']}/databases", json={"databases": [{"name": database}]}
    )
    assert added.status == 201
    return added.json()["created"][0]["id"]


async def test_backup_download_verify_restore_delete(
    api: Api, filled_database: str, restore_target: str
) -> None:
    database_id = await add_database(api, filled_database)

    started = await api.call("POST", f"databases/{database_id}/backups", "operator")
    assert started.status == 202, started.text
    assert started.headers["Location"] == started.json()["status_url"]
    job = await finished_job(api, started.json())
    assert job["runtime_status"] == "Completed" and job["result"] == "succeeded", job

    listed = await api.call("GET", "backups", "reader", params={"database_id": database_id})
    [record] = listed.json()["items"]
    assert record["status"] == "succeeded" and record["trigger"] == "manual"
    assert record["id"] == started.json()["record_id"]
    merged = await api.call("GET", "backups", "reader")
    assert [item["id"] for item in merged.json()["items"]] == [record["id"]]

    link = await api.call("GET", f"backups/{database_id}/{record['id']}/download", "operator")
    assert link.status == 200, link.text
    async with aiohttp.ClientSession() as session, session.get(link.json()["url"]) as blob:
        assert blob.status == 200
        content = await blob.read()
    assert hashlib.sha256(content).hexdigest() == record["sha256"]
    async with aiohttp.ClientSession() as session:
        put = await session.put(
            link.json()["url"], data=b"x", headers={"x-ms-blob-type": "BlockBlob"}
        )
        assert put.status == 403  # read-only

    verify = await api.call("POST", f"backups/{database_id}/{record['id']}/verify", "operator")
    assert verify.status == 202, verify.text
    assert verify.json()["record_id"] == record["id"]
    verified = await finished_job(api, verify.json())
    assert verified["result"] == "succeeded" and verified["output"]["ok"] is True

    restore = await api.call(
        "POST", f"backups/{database_id}/{record['id']}/restore",
        json={"target_database": restore_target},
    )  # fmt: skip
    assert restore.status == 202, restore.text
    assert restore.json()["record_id"] == record["id"]
    restored = await finished_job(api, restore.json())
    assert restored["result"] == "succeeded" and restored["output"]["ok"] is True, restored
    with psycopg.connect(PG.format(restore_target)) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 200

    audit = await api.call("GET", "audit")
    actions = {entry["action"] for entry in audit.json()["items"]}
    assert {"backup.start", "backup.download", "backup.verify", "backup.restore"} <= actions
    assert link.json()["url"].split("?")[1] not in audit.text  # no signature in the log

    assert (await api.call("DELETE", f"backups/{database_id}/{record['id']}")).status == 204
    assert (await api.call("GET", f"backups/{database_id}/{record['id']}")).status == 404


async def test_unknown_job_is_404(api: Api) -> None:
    assert (await api.call("GET", "jobs/manual-nothing-here", "reader")).status == 404
    assert (await api.call("GET", "jobs/bad%20id", "reader")).status == 400


def stored_backup(api_env: dict[str, str], database_id: str, server_id: str) -> str:
    """A succeeded backup record (its blob is never read: the tests stop before)."""
    moment = datetime.now(UTC)
    made = BackupRecord(
        id=name("r"), database_id=database_id, server_id=server_id,
        status=BackupStatus.SUCCEEDED, trigger=Trigger.MANUAL, started_at=moment,
        finished_at=moment, created_at=moment, blob_name=f"{server_id}/{database_id}/x.sql.zst",
        sha256="0" * 64, stored_bytes=1, raw_bytes=1,
    )  # fmt: skip
    repositories(api_env).backups.create(made)
    return made.id


async def test_restore_refuses_a_target_server_of_another_engine(
    api: Api, api_env: dict[str, str]
) -> None:
    servers = {
        "pg": ("postgresql", 5432),
        "maria": ("mariadb", 3306),
        # Nothing listens on port 1: a restore that is started fails before it creates anything.
        "my": ("mysql", 1),
    }
    for server_id, (engine, port) in servers.items():
        created = await api.call(
            "POST", "servers",
            json={"id": server_id, "name": server_id, "engine": engine, "host": "127.0.0.1",
                  "port": port, "username": "root", "tls_mode": "disable"},
        )  # fmt: skip
        assert created.status == 201, created.text
    for database_id, server_id in (("pgdb", "pg"), ("mariadb", "maria")):
        added = await api.call(
            "POST", "databases", json={"id": database_id, "server_id": server_id, "name": "d"}
        )
        assert added.status == 201, added.text
    target = name("never_made_")
    pg_backup = stored_backup(api_env, "pgdb", "pg")
    for other in ("maria", "my"):
        refused = await api.call(
            "POST", f"backups/pgdb/{pg_backup}/restore",
            json={"target_database": target, "target_server_id": other},
        )  # fmt: skip
        assert refused.status == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "invalid"
        assert [detail["field"] for detail in error["details"]] == ["body.target_server_id"]
    maria_backup = stored_backup(api_env, "mariadb", "maria")
    refused = await api.call(
        "POST", f"backups/mariadb/{maria_backup}/restore",
        json={"target_database": target, "target_server_id": "pg"},
    )  # fmt: skip
    assert refused.status == 422, refused.text
    audit = await api.call("GET", "audit", params={"action": "backup.restore"})
    assert [entry["outcome"] for entry in audit.json()["items"]] == ["failed"] * 3

    # MySQL and MariaDB dumps restore into each other.
    started = await api.call(
        "POST", f"backups/mariadb/{maria_backup}/restore",
        json={"target_database": target, "target_server_id": "my"},
    )  # fmt: skip
    assert started.status == 202, started.text
    job = await finished_job(api, started.json())
    assert job["output"]["ok"] is False, job


async def test_restore_refuses_a_system_database_as_target(
    api: Api, api_env: dict[str, str]
) -> None:
    created = await api.call(
        "POST", "servers",
        json={"id": "sysmaria", "name": "m", "engine": "mariadb", "host": "127.0.0.1",
              "port": 3306, "username": "root", "tls_mode": "disable"},
    )  # fmt: skip
    assert created.status == 201, created.text
    added = await api.call(
        "POST", "databases", json={"id": "sysdb", "server_id": "sysmaria", "name": "d"}
    )
    assert added.status == 201, added.text
    backup_id = stored_backup(api_env, "sysdb", "sysmaria")
    for system in ("mysql", "sys", "information_schema", "performance_schema", "postgres",
                   "template0", "Template1", "azure_maintenance", "azure_sys", "master", "msdb",
                   "model", "tempdb"):  # fmt: skip
        refused = await api.call(
            "POST", f"backups/sysdb/{backup_id}/restore",
            json={"target_database": system, "allow_non_empty": True},
        )  # fmt: skip
        assert refused.status == 422, (system, refused.text)
        [detail] = refused.json()["error"]["details"]
        assert detail["field"] == "body.target_database"
        assert "system database" in detail["message"]
