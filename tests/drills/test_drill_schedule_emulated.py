"""Scheduled restore drills through the emulator in virtual time, on real PostgreSQL backups:
the drill loop fires at the policy's drill slots (in its time zone), takes a rotating sample
of the databases, restores each into the configured drill server, and every database is
drilled within ceil(databases / sample) drills."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.testing import run_emulator
from shared import jobs
from shared.drills import select_for_drill
from shared.models import (
    DailyRule,
    Database,
    DrillFrequency,
    DrillSchedule,
    DrillStatus,
    Policy,
)
from shared.schedule import next_drill
from tests.conftest import unique_name
from tests.drills.drill_support import fill_postgres, pg_databases, pg_exec
from tests.orchestration.conftest import APP_DIR, Catalog, pg_server

# 01:30 in Amsterdam (UTC+2 in May); backups daily at 02:00, drills daily at 04:00 local.
START = datetime(2026, 5, 3, 23, 30, tzinfo=UTC)
DAYS = 3
POLICY = Policy(
    id="drilled",
    name="drilled",
    timezone="Europe/Amsterdam",
    daily=DailyRule(keep_count=5, time="02:00"),
    drill=DrillSchedule(
        frequency=DrillFrequency.DAILY, time="04:00", sample_size=2, server_id="drill-pg"
    ),
)


@pytest.fixture
def three_databases() -> Iterator[dict[str, str]]:
    names = {database_id: unique_name("pg_") for database_id in ("a", "b", "c")}
    for name in names.values():
        pg_exec("postgres", f'CREATE DATABASE "{name}"')
        fill_postgres(name, rows=100)
    yield names
    for name in names.values():
        pg_exec("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
async def test_scheduled_drills_fire_at_their_slots_and_rotate_through_the_databases(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog, three_databases: dict[str, str]
) -> None:
    repositories = catalog.repositories
    repositories.policies.upsert(POLICY)
    repositories.servers.upsert(pg_server("pg", default_policy_id=POLICY.id))
    repositories.servers.upsert(pg_server("drill-pg"))  # the drill server (the same PostgreSQL)
    for database_id, name in three_databases.items():
        database = Database(id=database_id, server_id="pg", name=name, created_at=START)
        repositories.databases.upsert(database)
    env = {**app_env, "WATCHDOG_SCHEDULE": "0 */15 * * * *"}
    end = START + timedelta(days=DAYS)
    async with run_emulator(
        APP_DIR, tmp_path / "state.sqlite", virtual_time=True, env=env, start_time=START
    ) as emu:
        await emu.clock.sleep_until(end)
        loop = await emu.runtime.get_status(jobs.drill_loop_instance_id(POLICY.id))
    assert loop is not None and loop["runtimeStatus"] == "Running"

    slots, at = [], next_drill(POLICY, START)
    while at is not None and at <= end:
        slots.append(at)
        at = next_drill(POLICY, at)
    assert slots == [datetime(2026, 5, d, 2, 0, tzinfo=UTC) for d in (4, 5, 6)]  # 04:00 local

    drills = {
        db: sorted(repositories.drills.iter_by_database(db), key=lambda d: d.slot_time)
        for db in three_databases
    }
    by_slot: dict[datetime, list[str]] = {}
    for database_id, records in drills.items():
        for record in records:
            assert record.slot_time is not None
            by_slot.setdefault(record.slot_time, []).append(database_id)
            assert record.status is DrillStatus.SUCCEEDED, record
            assert record.target_server_id == "drill-pg" and record.scratch_dropped
            assert record.restore_seconds and record.tables_compared == 1
            # It restored that night's backup (02:00 local, two hours before the drill).
            backup = repositories.backups.get(database_id, record.backup_id or "")
            assert backup is not None
            assert backup.slot_time == record.slot_time - timedelta(hours=2)
    assert sorted(by_slot) == slots
    # The rotation, replayed: two a night, the least recently drilled first.
    last: dict[str, datetime | None] = {}
    for slot in slots:
        expected = select_for_drill(three_databases, last, 2)
        assert sorted(by_slot[slot]) == expected
        last.update(dict.fromkeys(expected, slot))
    window = math.ceil(len(three_databases) / 2)
    for start in range(len(slots) - window + 1):
        drilled = set().union(*(by_slot[slot] for slot in slots[start : start + window]))
        assert drilled == set(three_databases)
    scratch = {r.scratch_database for records in drills.values() for r in records}
    assert len(scratch) == 6 and not scratch & pg_databases()
