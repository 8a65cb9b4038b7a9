"""The product's own orchestrations, mirrored into the task hub tables (DurableTask.AzureStorage
schema) and read back with azure-data-tables: the watchdog (a timer trigger) starts a policy
loop, whose generations back up a slot, sleep on a durable timer and continue as new; two
manual backups of one database at once (entity calls, the second waiting on a durable timer);
a backup that fails; a policy change, a suspension and a termination of the loop; and a
purge that removes a backup's rows. Everything runs for real against Azurite,
with the dump replaced at its seam (BACKUP_WORKER), in virtual time.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from emulator.testing import run_emulator
from shared import jobs
from shared.models import HourlyRule, Policy, Trigger
from tests.conftest import azurite_connection_string
from tests.emulator.taskhub_tables import Tables, assert_mirrored, partition_key
from tests.orchestration.conftest import APP_DIR, FAKE_WORKER, Catalog, one_database_on

START = datetime(2026, 3, 2, 9, 50, tzinfo=UTC)


async def test_the_products_orchestrations_read_back_from_the_task_hub_tables(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog
) -> None:
    one_database_on(catalog, Policy(id="hourly", name="hourly", hourly=HourlyRule(keep_count=3)))
    hub = f"Product{uuid.uuid4().hex[:10]}"
    env = {
        **app_env,
        "BACKUP_WORKER": FAKE_WORKER,
        "WATCHDOG_SCHEDULE": "0 55 9 * * *",  # once, at 09:55: it starts the loop
        "AzureWebJobsStorage": azurite_connection_string(),
    }
    loop_id = jobs.policy_loop_instance_id("hourly")
    database_id = {"first": "db1", "second": "db1", "failing": "no-such-database"}
    manual = {name: jobs.manual_backup_instance_id(db, name) for name, db in database_id.items()}
    state = tmp_path / "state.sqlite"
    async with run_emulator(
        APP_DIR, state, virtual_time=True, env=env, start_time=START, hub_name=hub
    ) as emu:
        mirror = emu.host.mirror
        assert mirror is not None

        async def mirrored() -> Tables:
            assert await asyncio.to_thread(mirror.wait_synced, 60)
            return assert_mirrored(state, hub)

        await emu.clock.sleep_until(START.replace(hour=10, minute=30))  # the 10:00 slot ran
        with emu.clock.busy():  # virtual time stands still while the tables are read
            during_slot = await mirrored()  # the loop's generation holds the slot's backups
        # Two backups of one database at once: the second waits on a durable timer.
        for name, instance_id in manual.items():
            job = jobs.BackupJob(database_id=database_id[name], trigger=Trigger.MANUAL)
            await emu.runtime.start_new(
                jobs.BACKUP_DATABASE, instance_id, json.dumps(jobs.dump_json(job))
            )
        outcomes = {n: (await emu.wait_for_instance(i))["runtimeStatus"] for n, i in manual.items()}
        assert outcomes == {"first": "Completed", "second": "Completed", "failing": "Failed"}
        await emu.runtime.raise_event(loop_id, jobs.POLICY_CHANGED_EVENT, json.dumps("{}"))
        await emu.wait_until_idle()
        await emu.runtime.suspend(loop_id, "maintenance")
        await emu.wait_until_idle()
        await emu.runtime.resume(loop_id, "maintenance over")
        await emu.wait_until_idle()
        with emu.clock.busy():  # from here on (the watchdog would start the loop again)
            await emu.runtime.terminate(loop_id, "test over")
            assert (await emu.wait_for_instance(loop_id))["runtimeStatus"] == "Terminated"
            before_purge = await mirrored()
            assert partition_key(manual["first"]) in before_purge.history
            assert await emu.runtime.purge(manual["first"]) == 1
            await mirrored()
    tables = assert_mirrored(state, hub)
    assert partition_key(manual["first"]) not in tables.instances | tables.history
    loop_row = tables.instances[partition_key(loop_id)]
    assert loop_row["Generation"] >= 2 and loop_row["RuntimeStatus"] == "Terminated"
    slot_backup = jobs.backup_instance_id("db1", START.replace(hour=10, minute=0))
    assert tables.instances[partition_key(slot_backup)]["RuntimeStatus"] == "Completed"
    assert {"@database@db1", "@server@srv1"} <= set(tables.instances)
    seen = during_slot.event_types() | before_purge.event_types() | tables.event_types()
    assert seen >= {
        "ExecutionStarted",
        "ExecutionCompleted",
        "ExecutionTerminated",
        "ExecutionSuspended",
        "ExecutionResumed",
        "OrchestratorStarted",
        "OrchestratorCompleted",
        "TaskScheduled",
        "TaskCompleted",
        "TaskFailed",
        "SubOrchestrationInstanceCreated",
        "SubOrchestrationInstanceCompleted",
        "TimerCreated",
        "TimerFired",
        "EventSent",
        "EventRaised",
    }
