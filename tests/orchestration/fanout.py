"""A full slot: many databases on a few servers, all due at one instant, backed up through
the emulator by the product's policy loop, `backup_database` orchestrations and `server` and
`database` entities, with the dump replaced at its seam (BACKUP_WORKER) by a fake that takes
a fixed time and commits a small real blob. Used by bench/fanout.py (200 databases) and by
tests/orchestration/test_fanout.py (a reduced run, for correctness).

It runs on the wall clock, shifted so that the slot comes a few seconds after the start: lease
polls, timers and dumps take real time, as they would on Azure.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from emulator.clock import SystemClock
from emulator.testing import run_emulator
from shared import jobs
from shared.models import BackupStatus, Database, HourlyRule, Policy
from tests.conftest import app_environment, azurite_connection_string, unique_name
from tests.orchestration.conftest import APP_DIR, Catalog, forget_app_modules, pg_server
from tests.orchestration.fake_worker import TIMED_FAKE_WORKER, DumpSpan

TIMED_WORKER = "tests.orchestration.fake_worker:TIMED_FAKE_WORKER"
POLICY = "fanout"
LEAD = timedelta(seconds=3)  # from the emulator's start to the slot


class ShiftedClock(SystemClock):
    """The wall clock, shifted so that it reads `starts_at` now."""

    def __init__(self, starts_at: datetime) -> None:
        self._offset = starts_at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


@dataclass(frozen=True)
class Fanout:
    databases: int
    servers: int
    cap: int  # each server's max_concurrent_backups
    dump_seconds: float
    activity_concurrency: int | None = None  # None: host.json's

    def server_of(self, index: int) -> str:
        return f"srv{index % self.servers}"

    @property
    def ideal_seconds(self) -> float:
        """The caps allow no faster: each server runs its dumps `cap` at a time."""
        per_server = defaultdict(int)
        for index in range(self.databases):
            per_server[self.server_of(index)] += 1
        rounds = max(math.ceil(count / self.cap) for count in per_server.values())
        return rounds * self.dump_seconds


@dataclass(frozen=True)
class FanoutResult:
    databases: int
    completed: int
    cap_violations: int
    wall_seconds: float
    ideal_seconds: float

    @property
    def overhead_per_backup(self) -> float:
        return (self.wall_seconds - self.ideal_seconds) / self.databases

    def as_json(self) -> dict[str, float | int]:
        return {
            "fanout_databases": self.databases,
            "fanout_completed": self.completed,
            "fanout_cap_violations": self.cap_violations,
            "fanout_wall_s": round(self.wall_seconds, 2),
            "fanout_ideal_s": round(self.ideal_seconds, 2),
            "fanout_overhead_s_per_backup": round(self.overhead_per_backup, 3),
        }


def cap_violations(spans: list[DumpSpan], cap: int) -> int:
    """Dumps that started while their server already ran `cap` others (from the fake's own
    start and end times; an end at the same instant as a start counts first)."""
    violations = 0
    by_server: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for span in spans:
        by_server[span.server_id] += [(span.started, 1), (span.ended, -1)]
    for events in by_server.values():
        running = 0
        for _, change in sorted(events):
            running += change
            if change > 0 and running > cap:
                violations += 1
    return violations


def arrange(catalog: Catalog, fanout: Fanout, slot: datetime) -> list[str]:
    repositories = catalog.repositories
    hourly = HourlyRule(keep_count=10, minute=slot.minute)
    repositories.policies.upsert(Policy(id=POLICY, name=POLICY, hourly=hourly))
    for index in range(fanout.servers):
        server = pg_server(
            f"srv{index}", default_policy_id=POLICY, max_concurrent_backups=fanout.cap
        )
        repositories.servers.upsert(server)
    database_ids = [f"db{index:03d}" for index in range(fanout.databases)]
    for index, database_id in enumerate(database_ids):
        server_id = fanout.server_of(index)
        repositories.databases.upsert(Database(id=database_id, server_id=server_id, name="x"))
    return database_ids


async def run_fanout(fanout: Fanout, timeout: float = 1800) -> FanoutResult:  # noqa: ASYNC109
    """Runs one slot of `fanout` in a fresh catalog and task hub; the wall time counts from
    the slot to the last backup finished."""
    container = unique_name("fanout-")
    service = BlobServiceClient.from_connection_string(azurite_connection_string())
    service.create_container(container)
    env = app_environment(
        unique_name("f"),
        container,
        BACKUP_WORKER=TIMED_WORKER,
        **{"AzureWebJobs.watchdog.Disabled": "true"},  # the loop is started below, as it would
    )
    forget_app_modules()
    # a minute 20 to 80 s ahead (activities, on the real clock, stay that close): the policy's
    # hourly slot falls on it, and the emulator's clock starts just before it
    slot = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    database_ids = arrange(Catalog(env), fanout, slot)
    TIMED_FAKE_WORKER.seconds = fanout.dump_seconds
    TIMED_FAKE_WORKER.spans.clear()
    clock = ShiftedClock(slot - LEAD)
    loop_input = jobs.PolicyLoopInput(policy_id=POLICY, last_slot=slot - timedelta(hours=1))
    instance_ids = [jobs.backup_instance_id(d, slot) for d in database_ids]
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with run_emulator(
                APP_DIR,
                Path(folder) / "state.sqlite",
                env=env,
                clock=clock,
                activity_concurrency=fanout.activity_concurrency,
            ) as emu:
                loop_id = jobs.policy_loop_instance_id(POLICY)
                body = json.dumps(jobs.dump_json(loop_input))
                await emu.runtime.start_new(jobs.POLICY_LOOP, loop_id, body)
                await clock.sleep_until(slot)
                started = time.perf_counter()
                await asyncio.wait_for(_all_finished(emu.runtime, instance_ids), timeout)
                wall = time.perf_counter() - started
                await emu.runtime.terminate(loop_id, "fan-out measured")
        succeeded = [
            r
            for d in database_ids
            for r in Catalog(env).records(d)
            if r.status is BackupStatus.SUCCEEDED and r.slot_time == slot
        ]
        return FanoutResult(
            databases=fanout.databases,
            completed=len(succeeded),
            cap_violations=cap_violations(list(TIMED_FAKE_WORKER.spans), fanout.cap),
            wall_seconds=wall,
            ideal_seconds=fanout.ideal_seconds,
        )
    finally:
        forget_app_modules()
        service.delete_container(container)


async def _all_finished(runtime: Any, instance_ids: list[str]) -> None:
    for instance_id in instance_ids:
        await runtime.wait_for_instance(instance_id, timeout=math.inf)
