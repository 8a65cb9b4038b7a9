"""Restore drills of real PostgreSQL and MariaDB backups through the emulator: a good backup
passes and reports its RTO, a corrupted one fails, is notified and leaves no scratch
database, an interrupted drill's scratch database is dropped by the watchdog, an archived
blob is skipped quietly, and a drill waits for its database's lock and its server's slot
like a backup does. Backups are encrypted (ENCRYPTION is on by default): every drill here
decrypts."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import RunningEmulator, run_emulator
from shared import jobs, telemetry
from shared.models import BackupStatus, Database, DrillRecord, DrillStatus, Trigger
from tests.drills.drill_support import (
    NO_WATCHDOG,
    archive,
    backed_up,
    drilled,
    fill_mariadb,
    fill_postgres,
    fill_slow_postgres,
    finished,
    flip_a_byte,
    mariadb_databases,
    pg_databases,
    pg_exec,
    start,
    start_drill,
)
from tests.orchestration.conftest import (
    APP_DIR,
    SCRIPTED_WORKER,
    Catalog,
    Webhook,
    forget_app_modules,
    mariadb_server,
    pg_server,
)
from tests.orchestration.fake_worker import SCRIPTED_WORKER as SCRIPT
from tests.telemetry.metrics import recording

# DRILL_RTO_ROWS=2000000 measures the RTO of a bigger database (the README's figures).
ROWS = int(os.environ.get("DRILL_RTO_ROWS", "20000"))


def arrange(catalog: Catalog, **databases: tuple[str, str]) -> None:
    """databases: id → (server id, database name); servers pg (PostgreSQL) and my (MariaDB)."""
    repositories = catalog.repositories
    repositories.servers.upsert(pg_server("pg"))
    repositories.servers.upsert(mariadb_server("my"))
    for database_id, (server_id, name) in databases.items():
        repositories.databases.upsert(Database(id=database_id, server_id=server_id, name=name))


def report(record: DrillRecord) -> str:
    return (
        f"{record.database_id}: {record.status.value}, RTO {record.restore_seconds:.2f} s, "
        f"{record.raw_bytes} bytes ({record.stored_bytes} stored), "
        f"{(record.bytes_per_second or 0) / 1e6:.1f} MB/s"
    )


@pytest.mark.slow
async def test_drills_of_real_postgresql_and_mariadb_backups_pass_and_report_their_rto(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    mariadb_database: str,
    webhook: Webhook,
) -> None:
    fill_postgres(postgres_database, rows=ROWS)
    fill_mariadb(mariadb_database, rows=ROWS)
    arrange(catalog, pgdb=("pg", postgres_database), mydb=("my", mariadb_database))
    env = {**app_env, **NO_WATCHDOG, "NOTIFY_WEBHOOK_URL": webhook.url}
    with recording() as recorded:
        async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
            backups = {db: await backed_up(emu, db, "b1") for db in ("pgdb", "mydb")}
            drills = {db: await drilled(emu, db, "d1") for db in ("pgdb", "mydb")}
        counted = recorded.named(telemetry.DRILLS)
        rto = recorded.named(telemetry.DRILL_RTO)
    for database_id, record in drills.items():
        print(report(record))  # the README's RTO figures come from this line
        backup = next(r for r in catalog.records(database_id) if r.id == record.backup_id)
        assert backup.id == backups[database_id].record_id and backup.encryption == "age"
        assert record.status is DrillStatus.SUCCEEDED, record
        assert record.error is None and record.differences == []
        assert record.tables_compared == 1
        assert record.restore_seconds is not None and record.restore_seconds > 0
        assert record.raw_bytes and record.bytes_per_second
        assert record.bytes_per_second == pytest.approx(record.raw_bytes / record.restore_seconds)
        assert record.backup_taken_at == backup.finished_at
        assert record.scratch_dropped and record.scratch_database
        assert record.scratch_database.startswith(f"dilux_drill_{database_id}_")
        assert record.target_server_id == backup.server_id
        stored = catalog.repositories.drills.get(database_id, record.id)
        assert stored == record
    assert drills["pgdb"].scratch_database not in pg_databases()
    assert drills["mydb"].scratch_database not in mariadb_databases()
    assert webhook.received == []  # nothing failed
    # One drill counted per database, and its RTO recorded (OpenTelemetry, in memory).
    assert {p.attributes["database"]: (p.attributes, p.value) for p in counted} == {
        db: ({"engine": engine, "database": db, "server": server, "outcome": "succeeded"}, 1)
        for engine, db, server in (("postgresql", "pgdb", "pg"), ("mariadb", "mydb", "my"))
    }
    assert {p.attributes["database"]: p.value for p in rto} == {
        db: (1, pytest.approx(drills[db].restore_seconds)) for db in ("pgdb", "mydb")
    }


@pytest.mark.slow
async def test_a_corrupted_backup_fails_its_drill_is_notified_and_leaves_no_scratch_database(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    webhook: Webhook,
) -> None:
    fill_postgres(postgres_database)
    arrange(catalog, pgdb=("pg", postgres_database))
    env = {**app_env, **NO_WATCHDOG, "NOTIFY_WEBHOOK_URL": webhook.url}
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        done = await backed_up(emu, "pgdb", "b1")
        backup = catalog.repositories.backups.get("pgdb", done.record_id)
        assert backup is not None
        flip_a_byte(app_env["BACKUP_CONTAINER"], backup)
        record = await drilled(emu, "pgdb", "d1")
    assert record.status is DrillStatus.FAILED, record
    assert record.error and "decrypt" in record.error  # age authenticates every chunk
    assert record.restore_seconds is None and record.scratch_dropped
    assert record.scratch_database and record.scratch_database not in pg_databases()
    assert [(m["event"], m["database_id"], m["record_id"]) for m in webhook.received] == [
        ("drill_failed", "pgdb", record.id)
    ]
    assert "decrypt" in webhook.received[0]["error"]


@pytest.mark.slow
async def test_a_drill_of_a_backup_without_manifest_says_not_compared(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog, postgres_database: str
) -> None:
    """A record rebuilt from its blob's metadata has no manifest: the drill restores it
    but compared nothing, and says so rather than passing as compared."""
    fill_postgres(postgres_database)
    arrange(catalog, pgdb=("pg", postgres_database))
    env = {**app_env, **NO_WATCHDOG}
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        done = await backed_up(emu, "pgdb", "b1")
        backups = catalog.repositories.backups
        backup = backups.get("pgdb", done.record_id)
        assert backup is not None and backup.manifest is not None
        backups.replace(backup.model_copy(update={"manifest": None}))
        record = await drilled(emu, "pgdb", "d1")
    assert record.status is DrillStatus.SUCCEEDED, record
    assert record.compared is False and record.tables_compared == 0


@pytest.mark.slow
async def test_an_archived_backup_is_skipped_quietly(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    webhook: Webhook,
) -> None:
    fill_postgres(postgres_database)
    arrange(catalog, pgdb=("pg", postgres_database), empty=("pg", "never_backed_up"))
    env = {**app_env, **NO_WATCHDOG, "NOTIFY_WEBHOOK_URL": webhook.url}
    with recording() as recorded:
        async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
            done = await backed_up(emu, "pgdb", "b1")
            backup = catalog.repositories.backups.get("pgdb", done.record_id)
            assert backup is not None
            archive(app_env["BACKUP_CONTAINER"], backup)
            record = await drilled(emu, "pgdb", "d1")
            nothing = await drilled(emu, "empty", "d1")
            status = await emu.runtime.get_status(jobs.manual_drill_instance_id("pgdb", "d1"))
        counted = {
            p.attributes["database"]: p.attributes["outcome"]
            for p in recorded.named(telemetry.DRILLS)
        }
        timed = recorded.named(telemetry.DRILL_RTO)
    assert record.status is DrillStatus.SKIPPED and record.scratch_dropped
    assert record.error and "Archive tier" in record.error and backup.id in record.error
    assert record.scratch_database is None and record.restore_seconds is None
    assert nothing.status is DrillStatus.SKIPPED
    assert nothing.error == "the database has no successful backup to drill"
    assert jobs.job_result(status["runtimeStatus"], status["output"]) is jobs.JobResult.FAILED
    assert webhook.received == []  # skipped is not failed: no notification
    assert counted == {"pgdb": "skipped", "empty": "skipped"} and timed == []


async def wait_for(condition: Any, seconds: float = 60, what: str = "") -> None:
    """Until `condition()` (blocking: run in a thread, off the emulator's loop) is true."""
    began = time.monotonic()
    while not await asyncio.to_thread(condition):
        assert time.monotonic() - began < seconds, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_an_interrupted_drill_leaves_a_scratch_database_the_watchdog_drops(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    webhook: Webhook,
) -> None:
    fill_slow_postgres(postgres_database, rows=15, seconds=0.4)  # a six-second restore
    arrange(catalog, pgdb=("pg", postgres_database))
    drills = catalog.repositories.drills
    env = {**app_env, **NO_WATCHDOG, "NOTIFY_WEBHOOK_URL": webhook.url}
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        await backed_up(emu, "pgdb", "b1")
        instance_id = await start_drill(emu, "pgdb", "cut")
        drill_id = jobs.drill_record_id(instance_id)

        def restoring() -> bool:
            record = drills.get("pgdb", drill_id)
            return bool(record and record.scratch_database in pg_databases())

        await wait_for(restoring, what="the scratch database")
        await emu.runtime.terminate(instance_id, "interrupted by the test")
        await emu.wait_for_instance(instance_id)
        left = drills.get("pgdb", drill_id)
        assert left is not None and left.status is DrillStatus.RUNNING
        assert left.scratch_database in pg_databases() and not left.scratch_dropped
    # The watchdog of the next start finds the drill left behind.
    forget_app_modules()
    env = {**app_env, "WATCHDOG_SCHEDULE": "*/2 * * * * *", "NOTIFY_WEBHOOK_URL": webhook.url}
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        cleanup = jobs.drill_cleanup_instance_id(instance_id)
        began = time.monotonic()
        while await emu.runtime.get_status(cleanup) is None:
            assert time.monotonic() - began < 30, "the watchdog started no cleanup"
            await asyncio.sleep(0.2)
        await finished(emu, cleanup)
        again = await drilled(emu, "pgdb", "next")  # the leases were released
    record = drills.get("pgdb", drill_id)
    assert record is not None and record.status is DrillStatus.FAILED
    assert record.error == "interrupted: its drill job was terminated"
    assert record.scratch_dropped and record.scratch_database not in pg_databases()
    assert again.status is DrillStatus.SUCCEEDED and again.scratch_database not in pg_databases()
    events = [(m["event"], m["record_id"]) for m in webhook.received]
    assert events.count(("drill_failed", drill_id)) == 1


@pytest.mark.slow
async def test_a_drill_waits_for_its_database_lock_and_its_server_slot(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
) -> None:
    fill_postgres(postgres_database)
    other = postgres_database + "_b"
    pg_exec("postgres", f'CREATE DATABASE "{other}"')
    try:
        fill_postgres(other)
        repositories = catalog.repositories
        repositories.servers.upsert(pg_server("pg", max_concurrent_backups=1))
        repositories.databases.upsert(Database(id="first", server_id="pg", name=postgres_database))
        repositories.databases.upsert(Database(id="second", server_id="pg", name=other))
        env = {**app_env, **NO_WATCHDOG}
        async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
            for database_id in ("first", "second"):
                await backed_up(emu, database_id, "real")
        # Now a backup of `first` holds its dump (the scripted worker) while two drills start.
        forget_app_modules()
        SCRIPT.reset("hold")
        env = {**env, "BACKUP_WORKER": SCRIPTED_WORKER}
        async with run_emulator(APP_DIR, tmp_path / "state2.sqlite", env=env) as emu:
            holding = jobs.manual_backup_instance_id("first", "hold")
            job = jobs.BackupJob(database_id="first", trigger=Trigger.MANUAL)
            await start(emu, jobs.BACKUP_DATABASE, holding, job)
            assert await asyncio.to_thread(SCRIPT.dumping.wait, 30)
            same_database = await start_drill(emu, "first", "d1")
            same_server = await start_drill(emu, "second", "d1")
            phases = await phases_after(emu, [same_database, same_server], seconds=3)
            assert phases == ["waiting for the database lock", "waiting for a server slot"]
            SCRIPT.released.set()
            await finished(emu, holding)
            outputs = [await finished(emu, i) for i in (same_database, same_server)]
    finally:
        pg_exec("postgres", f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')
    first, second = (DrillRecord.model_validate(o) for o in outputs)
    assert first.status is DrillStatus.SUCCEEDED and second.status is DrillStatus.SUCCEEDED
    held = next(r for r in catalog.records("first") if r.instance_id == holding)
    assert held.status is BackupStatus.SUCCEEDED and held.finished_at is not None
    for drill in (first, second):
        assert drill.started_at is not None and drill.started_at >= held.finished_at
    earlier, later = sorted((first, second), key=lambda d: d.started_at)
    assert later.started_at >= earlier.finished_at, "two drills ran at once on a limit-1 server"


async def phases_after(emu: RunningEmulator, instances: list[str], seconds: float) -> list[Any]:
    """Each instance's phase once `seconds` have passed (they must still be waiting then)."""
    await asyncio.sleep(seconds)
    statuses = [await emu.runtime.get_status(i) for i in instances]
    return [(s.get("customStatus") or {}).get("phase") for s in statuses]
