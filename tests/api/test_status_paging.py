"""Running jobs are found past the first page of the task hub's instance list (the status
report's running jobs and `GET /api/jobs`).

On Azure an instance query answers one page (at most 100 rows, sometimes fewer, even none) and
an `x-ms-continuation-token` (durabletask `src/DurableTask.AzureStorage/Tracking/
AzureTableTrackingStore.cs`, `QueryStateAsync`); the SDK's `get_status_by` reads the first page
only. The emulator pages the same way (issue 11, section 1.2), so the status route must follow
the token.
"""

from __future__ import annotations

from emulator.store import Instance
from tests.api.conftest import Api

EARLIER_IDS = 100  # a full first page of finished instances, all before the job's id


def arrange_finished_instances(api: Api) -> None:
    """What no route writes: finished instances whose ids sort before any job's."""
    store = api.emu.runtime._store
    with store.transaction():
        for n in range(EARLIER_IDS):
            stamp = "2024-01-01T00:00:00.000000Z"
            store.put_instance(
                Instance(
                    f"aaa-finished-{n:03d}", "backup_database", "", f"e{n}", "Completed",
                    None, '"done"', None, stamp, stamp, stamp, None,
                )
            )  # fmt: skip


async def test_jobs_past_the_first_page_are_listed(api: Api) -> None:
    arrange_finished_instances(api)
    # A server that never answers (a black-holed address): the backup stays running.
    await api.call(
        "POST", "servers",
        json={"id": "far", "name": "far", "engine": "postgresql", "host": "10.255.255.1",
              "port": 5432, "username": "postgres"},
    )  # fmt: skip
    await api.call("POST", "databases", json={"id": "slow", "server_id": "far", "name": "slow"})
    started = await api.call("POST", "databases/slow/backups", "operator")
    assert started.status == 202
    running = (await api.call("GET", "status", "reader")).json()["running_jobs"]
    assert [job["instance_id"] for job in running] == [started.json()["instance_id"]]
    listed = (await api.call("GET", "jobs", "reader")).json()["items"]
    assert [job["instance_id"] for job in listed] == [started.json()["instance_id"]]
