"""Faults that must not leave a record that lies: storage down for longer than the dump's
attempts (a real Azurite of the test's own, stopped and started again), and a backup whose
job ended without recording its result, which the watchdog settles."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import RunningEmulator, run_emulator
from shared import jobs
from shared.models import BackupRecord, BackupStatus, Database, Trigger
from tests.azurite import OwnAzurite
from tests.conftest import unique_name
from tests.orchestration.conftest import (
    APP_DIR,
    FAKE_WORKER,
    SCRIPTED_WORKER,
    Catalog,
    Webhook,
    forget_app_modules,
    pg_server,
)
from tests.orchestration.fake_worker import SCRIPTED_WORKER as SCRIPT


def environment(azurite: OwnAzurite, **extra: str) -> dict[str, str]:
    return {
        "BACKUP_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "TABLE_PREFIX": unique_name("t"),
        "BACKUP_CONTAINER": unique_name("faults-"),
        "SECRET_STORE": "local",
        "LOCAL_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "AUTH_MODE": "development",
        **extra,
    }


def arrange(catalog: Catalog) -> None:
    repositories = catalog.repositories
    repositories.servers.upsert(pg_server("srv"))
    repositories.databases.upsert(Database(id="db", server_id="srv", name="fake_db"))


def failures(history: list[dict[str, Any]], activity: str) -> int:
    return sum(
        1 for e in history if e["EventType"] == "TaskFailed" and e["FunctionName"] == activity
    )


async def history_of(emu: RunningEmulator, instance_id: str) -> list[dict[str, Any]]:
    return (await emu.runtime.get_status(instance_id, show_history=True))["historyEvents"]


@pytest.mark.slow
async def test_storage_down_longer_than_the_dump_s_attempts_still_ends_the_record_failed(
    tmp_path: Path, own_azurite: OwnAzurite, webhook: Webhook
) -> None:
    env = environment(
        own_azurite,
        BACKUP_WORKER=SCRIPTED_WORKER,
        DUMP_MAX_ATTEMPTS="2",
        DUMP_RETRY_SECONDS="2",
        NOTIFY_WEBHOOK_URL=webhook.url,
        **{"AzureWebJobs.watchdog.Disabled": "true"},  # only the job itself may finish it
    )
    forget_app_modules()
    catalog = Catalog(env)
    arrange(catalog)
    SCRIPT.reset("hold")
    instance = jobs.manual_backup_instance_id("db", "outage")
    job = json.dumps(jobs.dump_json(jobs.BackupJob(database_id="db", trigger=Trigger.MANUAL)))
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        await emu.runtime.start_new(jobs.BACKUP_DATABASE, instance, job)
        assert await asyncio.to_thread(SCRIPT.dumping.wait, 30)
        own_azurite.stop()  # mid-dump
        SCRIPT.released.set()
        began = time.monotonic()
        # Both dump attempts fail, then recording the result fails too, while storage is down.
        while failures(await history_of(emu, instance), jobs.FINISH_BACKUP) < 1:
            assert time.monotonic() - began < 120, "the job did not get to record its result"
            await asyncio.sleep(0.5)
        history = await history_of(emu, instance)
        assert failures(history, jobs.DUMP_DATABASE) == 2
        own_azurite.start()
        status = await emu.runtime.wait_for_instance(instance, 120)
    assert status["runtimeStatus"] == "Completed", status
    output = jobs.BackupOutput.model_validate(status["output"])
    assert output.status is BackupStatus.FAILED and output.error
    assert jobs.job_result(status["runtimeStatus"], status["output"]) is jobs.JobResult.FAILED
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.FAILED and record.blob_name is None
    assert record.error and record.finished_at and record.started_at
    assert record.started_at < record.finished_at
    assert [(m["event"], m["record_id"]) for m in webhook.received] == [
        ("backup_failed", record.id)
    ]


async def test_the_watchdog_settles_a_record_whose_job_ended_without_finishing_it(
    tmp_path: Path, own_azurite: OwnAzurite, webhook: Webhook
) -> None:
    env = environment(
        own_azurite,
        BACKUP_WORKER=FAKE_WORKER,
        NOTIFY_WEBHOOK_URL=webhook.url,
        WATCHDOG_SCHEDULE="*/2 * * * * *",
    )
    forget_app_modules()
    catalog = Catalog(env)
    arrange(catalog)
    repositories = catalog.repositories
    gone = jobs.manual_backup_instance_id("db", "gone")
    dead = jobs.manual_backup_instance_id("db", "dead")
    now = datetime.now(UTC)
    for instance_id in (gone, dead):  # left running by jobs that ended
        record = BackupRecord(
            id=jobs.backup_record_id(instance_id),
            database_id="db",
            server_id="srv",
            status=BackupStatus.RUNNING,
            trigger=Trigger.MANUAL,
            created_at=now,
            started_at=now,
            instance_id=instance_id,
        )
        repositories.backups.create(record)
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        # "dead" is a job that failed (its database id names nothing: prepare fails);
        # "gone" was never run here (purged, or another task hub's).
        missing = json.dumps(jobs.dump_json(jobs.BackupJob(database_id="nowhere")))
        await emu.runtime.start_new(jobs.BACKUP_DATABASE, dead, missing)
        assert (await emu.runtime.wait_for_instance(dead))["runtimeStatus"] == "Failed"
        began = time.monotonic()
        while {r.status for r in catalog.records("db")} != {BackupStatus.FAILED}:
            assert time.monotonic() - began < 30, "the watchdog did not settle the records"
            await asyncio.sleep(0.5)
        settled = await emu.runtime.wait_for_instance(jobs.settle_instance_id(dead))
    assert settled["runtimeStatus"] == "Completed", settled
    errors = {r.instance_id: r.error for r in catalog.records("db")}
    assert errors == {
        gone: "not finished: its backup job no longer exists",
        dead: "not finished: its backup job failed before recording the result",
    }
    events = sorted((m["event"], m["consecutive_failures"]) for m in webhook.received)
    assert events == [("backup_failed", 1), ("backup_failed", 2)]
