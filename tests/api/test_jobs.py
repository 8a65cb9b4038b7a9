"""Jobs through the API: a result a script can test, cancelling a running backup, and a
backup terminated through the Durable management API, which must not keep its leases.

A real pg_dump is held mid-dump by a lock a test transaction takes on the table it dumps.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg

from shared import telemetry
from tests.api.conftest import PG, Api
from tests.api.test_backups import add_database, finished_job

WEBHOOKS = "/runtime/webhooks/durabletask"


async def eventually(check: Callable[[], Any], seconds: float = 30, what: str = "") -> Any:
    """Polls `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.25)


def dumps_running() -> int:
    """pg_dump processes the app (hosted in this process) runs. (The server cannot tell: a
    backend waiting for a lock does not notice that its client was killed.)"""
    found = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, parent = text[text.rindex(")") + 2 :].split()[:2]
        found += name == "pg_dump" and int(parent) == os.getpid() and state != "Z"
    return found


@asynccontextmanager
async def table_locked(database: str) -> AsyncIterator[None]:
    """Holds an ACCESS EXCLUSIVE lock on `items`: a pg_dump of the database waits for it."""
    conn = await psycopg.AsyncConnection.connect(PG.format(database))
    try:
        await conn.execute("BEGIN")
        await conn.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        await conn.rollback()
        await conn.close()


async def entity(api: Api, name: str, key: str) -> dict[str, Any]:
    response = await api.emu.request(
        "GET", f"{WEBHOOKS}/entities/{name}/{key}", key=api.emu.system_key
    )
    assert response.status == 200, response.text
    return response.json()


async def start_backup(api: Api, database_id: str) -> dict[str, Any]:
    started = await api.call("POST", f"databases/{database_id}/backups", "operator")
    assert started.status == 202, started.text
    return started.json()


async def record(
    api: Api, database_id: str, record_id: str, role: str = "reader"
) -> dict[str, Any]:
    found = await record_or_none(api, database_id, record_id, role)
    assert found is not None
    return found


async def record_or_none(
    api: Api, database_id: str, record_id: str, role: str = "reader"
) -> dict[str, Any] | None:
    response = await api.call("GET", f"backups/{database_id}/{record_id}", role)
    assert response.status in (200, 404), response.text
    return response.json() if response.status == 200 else None


async def test_a_failed_backup_is_completed_for_the_runtime_but_failed_in_result(
    api: Api,
) -> None:
    database_id = await add_database(api, "no_such_database_here")
    job = await finished_job(api, await start_backup(api, database_id))
    assert job["runtime_status"] == "Completed"  # what a script polling the runtime sees
    assert job["result"] == "failed" and job["output"]["status"] == "failed", job


async def test_cancel_stops_the_dump_records_cancelled_and_frees_both_leases(
    api: Api, filled_database: str, metrics: Any
) -> None:
    database_id = await add_database(api, filled_database)
    async with table_locked(filled_database):
        started = await start_backup(api, database_id)
        await eventually(lambda: dumps_running() == 1, what="pg_dump running")
        server_id = (await record(api, database_id, started["record_id"]))["server_id"]
        assert (await entity(api, "server", server_id))["slots"]
        path = f"jobs/{started['instance_id']}/cancel"
        assert (await api.call("POST", path, "reader")).status == 403
        cancelled = await api.call("POST", path, "operator")
        assert cancelled.status == 202, cancelled.text
        assert cancelled.json()["record_id"] == started["record_id"]
        # the dump stops within seconds, though its table is still locked
        await eventually(lambda: dumps_running() == 0, 20, "pg_dump stopped")
        job = await finished_job(api, started)
        assert job["result"] == "cancelled", job
        stopped = await record(api, database_id, started["record_id"])
        assert stopped["status"] == "cancelled" and stopped.get("blob_name") is None
        assert (await entity(api, "server", server_id))["slots"] == {}
        assert (await entity(api, "database", database_id)).get("owner") is None
        again = await api.call("POST", path, "operator")
        assert again.status == 409 and "ended" in again.json()["error"]["message"]
    # the next backup runs at once, and nothing of the cancelled one was kept
    job = await finished_job(api, await start_backup(api, database_id))
    assert job["result"] == "succeeded", job
    listed = await api.call("GET", "backups", "reader", params={"database_id": database_id})
    statuses = sorted(item["status"] for item in listed.json()["items"])
    assert statuses == ["cancelled", "succeeded"]
    counted = {p.attributes["outcome"]: p.value for p in metrics.named(telemetry.BACKUPS)}
    assert counted == {"cancelled": 1, "succeeded": 1}  # each once, where its record ended
    audit = await api.call("GET", "audit", params={"action": "job.cancel"})
    outcomes = sorted(entry["outcome"] for entry in audit.json()["items"])
    assert outcomes == ["denied", "failed", "succeeded"]  # reader, operator, too late
    [entry] = [e for e in audit.json()["items"] if e["outcome"] == "succeeded"]
    assert entry["details"]["record_id"] == started["record_id"]


async def test_a_backup_terminated_through_the_management_api_does_not_keep_its_leases(
    api: Api, filled_database: str
) -> None:
    database_id = await add_database(api, filled_database)
    async with table_locked(filled_database):
        first = await start_backup(api, database_id)
        await eventually(lambda: dumps_running() == 1, what="pg_dump running")
        server_id = (await record(api, database_id, first["record_id"]))["server_id"]
        terminate = f"{WEBHOOKS}/instances/{first['instance_id']}/terminate"
        done = await api.emu.request("POST", terminate, params={"reason": "ops"}, key=True)
        assert done.status == 202, done.text
        assert (await finished_job(api, first))["result"] == "cancelled"
        began = time.monotonic()
        second = await start_backup(api, database_id)

        # the second backup takes the database lock and the server slot the first held ...
        async def second_dumping() -> bool:
            found = await record_or_none(api, database_id, second["record_id"])
            return found is not None and found["status"] == "running"

        await eventually(second_dumping, 30, "the second backup dumping")
        slots = (await entity(api, "server", server_id))["slots"]
        assert set(slots) == {second["instance_id"]}
        assert (await entity(api, "database", database_id))["owner"] == second["instance_id"]

        # ... and the first one's record is settled, and its dump stopped
        async def first_settled() -> dict[str, Any] | None:
            found = await record(api, database_id, first["record_id"], "admin")
            return found if found["status"] == "failed" else None

        settled = await eventually(first_settled, 30, "the first record settled")
        assert "terminated" in settled["error"]  # the failure's own text, shown to admins
        await eventually(lambda: dumps_running() == 1, 20, "one pg_dump left")
    job = await finished_job(api, second)
    assert job["result"] == "succeeded", job
    assert time.monotonic() - began < 60  # not the first lease's 6.5 hours
    assert (await entity(api, "server", server_id))["slots"] == {}


async def test_restores_and_other_jobs_are_not_cancelled(api: Api) -> None:
    unknown = await api.call("POST", "jobs/manual-nothing-here/cancel", "operator")
    assert unknown.status == 404
    loop = await api.call("POST", "jobs/policy-development/cancel", "operator")
    assert loop.status in (404, 409)
