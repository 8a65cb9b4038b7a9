"""Backups of real PostgreSQL and MariaDB databases through the emulator, end to end.

The real pipeline does the dumps (no fake at the seam). Schedules run in virtual time (the
clock stands still while a dump runs); the server-limit test runs on the wall clock so the
start and finish times it compares are real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from emulator.testing import RunningEmulator, run_emulator
from shared import jobs
from shared.models import (
    BackupStatus,
    Database,
    HourlyRule,
    Policy,
    Trigger,
)
from tests.conftest import unique_name
from tests.orchestration.conftest import (
    APP_DIR,
    Catalog,
    Webhook,
    blob_names,
    mariadb_server,
    pg_server,
)

START = datetime(2026, 5, 4, 9, 40, tzinfo=UTC)
PG = "host=127.0.0.1 port=5432 user=postgres dbname={}"
POLICY = Policy(id="e2e-hourly", name="e2e", hourly=HourlyRule(keep_count=2, every_hours=1))


def pg_exec(database: str, *statements: str) -> None:
    with psycopg.connect(PG.format(database), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def fill_postgres(database: str) -> None:
    pg_exec(
        database,
        "CREATE TABLE items (id serial PRIMARY KEY, name text, data bytea)",
        "INSERT INTO items (name, data)"
        " SELECT 'n' || g, decode('00ff', 'hex') FROM generate_series(1, 50) g",
    )


def fill_mariadb(database: str) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=database)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT)")
            cur.executemany("INSERT INTO items (name) VALUES (%s)", [(f"n{i}",) for i in range(30)])
        conn.commit()
    finally:
        conn.close()


async def start(emu: RunningEmulator, name: str, instance_id: str, data: Any) -> None:
    await emu.runtime.start_new(name, instance_id, json.dumps(jobs.dump_json(data)))


async def finished(emu: RunningEmulator, instance_id: str) -> dict[str, Any]:
    status = await emu.runtime.wait_for_instance(instance_id, timeout=180)
    assert status["runtimeStatus"] == "Completed", status
    return status


@pytest.fixture
def restored_database() -> Iterator[str]:
    name = unique_name("pg_restored_")
    yield name
    with psycopg.connect(PG.format("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
async def test_scheduled_backups_of_postgresql_and_mariadb_then_verify_and_restore(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    mariadb_database: str,
    restored_database: str,
) -> None:
    fill_postgres(postgres_database)
    fill_mariadb(mariadb_database)
    repositories = catalog.repositories
    repositories.policies.upsert(POLICY)
    repositories.servers.upsert(pg_server("pg", default_policy_id=POLICY.id))
    repositories.servers.upsert(mariadb_server("my", default_policy_id=POLICY.id))
    repositories.databases.upsert(Database(id="pgdb", server_id="pg", name=postgres_database))
    repositories.databases.upsert(Database(id="mydb", server_id="my", name=mariadb_database))
    three_slots_later = START + timedelta(hours=3)
    state = tmp_path / "state.sqlite"
    async with run_emulator(
        APP_DIR, state, virtual_time=True, env=app_env, start_time=START
    ) as emu:
        await emu.clock.sleep_until(three_slots_later)  # the watchdog starts the loop at 09:45
        for database_id in ("pgdb", "mydb"):
            records = catalog.records(database_id)
            slots = sorted(r.slot_time for r in records)
            assert slots == [START.replace(minute=0) + timedelta(hours=h) for h in (1, 2, 3)]
            alive = [r for r in records if r.status is BackupStatus.SUCCEEDED]
            assert len(alive) == 2 and all(r.sha256 and r.raw_bytes for r in alive)
            assert [r.status for r in records].count(BackupStatus.EXPIRED) == 1
        names = blob_names(app_env["BACKUP_CONTAINER"])
        alive_blobs = {
            r.blob_name for d in ("pgdb", "mydb") for r in catalog.records(d) if r.blob_name
        }
        assert names == alive_blobs and len(names) == 4

        newest = max(catalog.records("pgdb"), key=lambda r: r.slot_time)
        verify_id = jobs.verify_instance_id("pgdb", newest.id, "v1")
        await start(
            emu,
            jobs.VERIFY_BACKUP,
            verify_id,
            jobs.VerifyJob(database_id="pgdb", backup_id=newest.id),
        )
        verified = jobs.VerifyOutput.model_validate((await finished(emu, verify_id))["output"])
        assert verified.ok and verified.sha256_ok, verified

        restore_id = jobs.restore_instance_id("pgdb", newest.id, "r1")
        job = jobs.RestoreJob(
            database_id="pgdb", backup_id=newest.id, target_database=restored_database
        )
        await start(emu, jobs.RESTORE_BACKUP, restore_id, job)
        restored = jobs.RestoreOutput.model_validate((await finished(emu, restore_id))["output"])
        assert restored.ok and restored.differences == [], restored
    with psycopg.connect(PG.format(restored_database)) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (50,)


@pytest.mark.slow
async def test_two_databases_on_a_server_limited_to_one_never_overlap(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog, postgres_database: str
) -> None:
    fill_postgres(postgres_database)
    other = unique_name("pg_")
    pg_exec("postgres", f'CREATE DATABASE "{other}"')
    try:
        fill_postgres(other)
        repositories = catalog.repositories
        repositories.servers.upsert(pg_server("pg1", max_concurrent_backups=1))
        repositories.databases.upsert(Database(id="first", server_id="pg1", name=postgres_database))
        repositories.databases.upsert(Database(id="second", server_id="pg1", name=other))
        async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=app_env) as emu:
            ids = {db: jobs.manual_backup_instance_id(db, "x") for db in ("first", "second")}
            for database_id, instance_id in ids.items():
                job = jobs.BackupJob(database_id=database_id, trigger=Trigger.MANUAL)
                await start(emu, jobs.BACKUP_DATABASE, instance_id, job)
            for instance_id in ids.values():
                await finished(emu, instance_id)
    finally:
        pg_exec("postgres", f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')
    (a,), (b,) = catalog.records("first"), catalog.records("second")
    assert a.status is BackupStatus.SUCCEEDED and b.status is BackupStatus.SUCCEEDED
    assert a.started_at and a.finished_at and b.started_at and b.finished_at
    earlier, later = sorted((a, b), key=lambda r: r.started_at)
    assert later.started_at >= earlier.finished_at, "two dumps ran at once on a limit-1 server"


@pytest.fixture
def locked_out_role(postgres_database: str) -> Iterator[str]:
    """A login role that may connect to the database but not read its table: its connection
    test passes and its pg_dump fails."""
    role = unique_name("dilux_role_")
    fill_postgres(postgres_database)
    pg_exec("postgres", f'CREATE ROLE "{role}" LOGIN')
    yield role
    pg_exec(postgres_database, f'DROP OWNED BY "{role}"')
    pg_exec("postgres", f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.slow
async def test_a_role_without_privileges_fails_at_once_is_notified_then_recovers(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    locked_out_role: str,
    webhook: Webhook,
) -> None:
    repositories = catalog.repositories
    repositories.servers.upsert(pg_server("pgx", username=locked_out_role))
    repositories.databases.upsert(Database(id="broken", server_id="pgx", name=postgres_database))
    env = {
        **app_env,
        "NOTIFY_WEBHOOK_URL": webhook.url,
        "DUMP_MAX_ATTEMPTS": "2",
        "DUMP_RETRY_SECONDS": "1",
    }
    first = jobs.manual_backup_instance_id("broken", "1")
    second = jobs.manual_backup_instance_id("broken", "2")
    async with run_emulator(
        APP_DIR, tmp_path / "s.sqlite", virtual_time=True, env=env, start_time=START
    ) as emu:
        await start(
            emu,
            jobs.BACKUP_DATABASE,
            first,
            jobs.BackupJob(database_id="broken", trigger=Trigger.MANUAL),
        )
        status = await finished(emu, first)
        history = (await emu.runtime.get_status(first, show_history=True))["historyEvents"]
        pg_exec(
            postgres_database,
            f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{locked_out_role}"',
            f'GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO "{locked_out_role}"',
        )
        await start(
            emu,
            jobs.BACKUP_DATABASE,
            second,
            jobs.BackupJob(database_id="broken", trigger=Trigger.MANUAL),
        )
        recovered = await finished(emu, second)

    dumps = [e["EventType"] for e in history if e.get("FunctionName") == jobs.DUMP_DATABASE]
    # "permission denied" is not retried, though two attempts are allowed: one attempt
    assert dumps == ["TaskCompleted"]
    output = jobs.BackupOutput.model_validate(status["output"])
    assert output.status is BackupStatus.FAILED and output.blob_name is None
    record = next(r for r in catalog.records("broken") if r.id == output.record_id)
    assert record.status is BackupStatus.FAILED and record.blob_name is None
    assert record.error and "permission denied" in record.error and "Traceback" not in record.error
    assert jobs.BackupOutput.model_validate(recovered["output"]).status is BackupStatus.SUCCEEDED
    failures_blobs = [n for n in blob_names(app_env["BACKUP_CONTAINER"]) if output.record_id in n]
    assert failures_blobs == []
    events = [(m["event"], m["consecutive_failures"]) for m in webhook.received]
    assert events == [("backup_failed", 1), ("backup_recovered", 1)]
    assert "permission denied" in webhook.received[0]["error"]
