"""`backup_database` through the emulator with the fake worker at the seam (virtual time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from emulator.testing import run_emulator
from shared import jobs
from shared.models import BackupStatus, Database, HourlyRule, Policy, Tier, Trigger
from shared.seed_policies import seeded_policy
from tests.conftest import azurite_connection_string
from tests.orchestration.conftest import APP_DIR, FAKE_WORKER, Catalog, one_database_on

START = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


def arrange(catalog: Catalog) -> None:
    one_database_on(catalog, seeded_policy("development"))


async def test_a_manual_backup_runs_end_to_end_through_the_emulator(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog
) -> None:
    arrange(catalog)
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER}
    instance = jobs.manual_backup_instance_id("db1", "first")
    job = jobs.BackupJob(database_id="db1", trigger=Trigger.MANUAL)
    async with run_emulator(
        APP_DIR, tmp_path / "state.db", virtual_time=True, env=env, start_time=START
    ) as emu:
        await emu.runtime.start_new(jobs.BACKUP_DATABASE, instance, json.dumps(jobs.dump_json(job)))
        status = await emu.runtime.wait_for_instance(instance)
    assert status["runtimeStatus"] == "Completed", status
    output = jobs.BackupOutput.model_validate(status["output"])
    assert output.status is BackupStatus.SUCCEEDED and output.blob_name
    records = catalog.records("db1")
    assert [r.status for r in records] == [BackupStatus.SUCCEEDED]
    assert records[0].id == jobs.backup_record_id(instance) and records[0].sha256
    assert status["customStatus"]["phase"] == "done"


async def test_the_watchdog_restarts_a_terminated_loop_which_catches_up_once(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog
) -> None:
    policy = Policy(id="hourly", name="hourly", hourly=HourlyRule(keep_count=5))
    one_database_on(catalog, policy)
    # The watchdog runs at 09:30 and 11:30 only, so the loop stays dead from 10:10 to 11:30.
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER, "WATCHDOG_SCHEDULE": "0 30 9,11 * * *"}
    start = datetime(2026, 3, 2, 9, 20, tzinfo=UTC)
    loop_id = jobs.policy_loop_instance_id("hourly")
    state = tmp_path / "state.db"
    async with run_emulator(APP_DIR, state, virtual_time=True, env=env, start_time=start) as emu:
        await emu.clock.sleep_until(start.replace(hour=10, minute=10))
        await emu.runtime.terminate(loop_id, "test")
        await emu.clock.sleep_until(start.replace(hour=12, minute=10))
        catalog.repositories.databases.upsert(
            Database(id="db1", server_id="srv1", name="fake_db", enabled=False)
        )
        await emu.runtime.raise_event(loop_id, jobs.POLICY_CHANGED_EVENT, json.dumps("{}"))
        stopped = await emu.runtime.wait_for_instance(loop_id)
    records = sorted(catalog.records("db1"), key=lambda r: r.slot_time)
    hours = [(r.slot_time.hour, r.created_at.hour, r.created_at.minute) for r in records]
    # 10:00 on time; 11:00 missed while the loop was dead and caught up at 11:30; 12:00 on time
    assert hours == [(10, 10, 0), (11, 11, 30), (12, 12, 0)]
    assert stopped["runtimeStatus"] == "Completed"
    assert stopped["output"]["stopped_because"] == "no enabled databases"


async def test_running_a_slot_again_backs_it_up_only_once(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog
) -> None:
    arrange(catalog)
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER}
    slot = START.replace(hour=2)
    instance = jobs.backup_instance_id("db1", slot)
    job = jobs.BackupJob(database_id="db1", slot_time=slot, tiers=[Tier.DAILY])
    state = tmp_path / "state.db"
    async with run_emulator(APP_DIR, state, virtual_time=True, env=env, start_time=START) as emu:
        for _ in range(2):  # e.g. a loop restarted from an older last slot
            await emu.runtime.start_new(
                jobs.BACKUP_DATABASE, instance, json.dumps(jobs.dump_json(job))
            )
            status = await emu.runtime.wait_for_instance(instance)
            assert status["runtimeStatus"] == "Completed", status
    (record,) = catalog.records("db1")
    assert record.status is BackupStatus.SUCCEEDED and record.slot_time == slot
    second = jobs.BackupOutput.model_validate(status["output"])
    assert second.status is BackupStatus.SUCCEEDED and second.blob_name is None  # nothing new
    service = BlobServiceClient.from_connection_string(azurite_connection_string())
    blobs = list(service.get_container_client(app_env["BACKUP_CONTAINER"]).list_blobs())
    assert [blob.name for blob in blobs] == [record.blob_name]
