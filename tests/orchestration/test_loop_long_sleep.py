"""A policy loop waiting for a far slot (a yearly-only policy: months away) reacts to a
`policy_changed` event at once, even after the wait has run for days.

Azure cuts a durable timer over 6 days into hops of 3 days (durable-protocol.md §2.1,
`maximumShortTimerDuration`, `longRunningTimerIntervalDuration`), and the SDK appends each
later hop as a top-level action of its own, outside the `task_any` the timer lost; the
extension's shim only acts on `continue_as_new` once every top-level action has completed,
so the loop would sit out the pending hop (up to 3 days) before reloading its policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulator.testing import run_emulator
from shared import jobs
from shared.models import BackupStatus, HourlyRule, Policy, YearlyRule
from tests.orchestration.conftest import APP_DIR, FAKE_WORKER, Catalog, one_database_on

START = datetime(2026, 3, 2, 9, 20, tzinfo=UTC)
YEARLY = Policy(id="yearly", name="yearly", yearly=YearlyRule(keep_count=3, month=12, day=31))
NO_WATCHDOG = {"AzureWebJobs.watchdog.Disabled": "true"}  # the test starts the loop itself


async def test_a_policy_change_during_a_far_wait_takes_effect_promptly(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog
) -> None:
    one_database_on(catalog, YEARLY)
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER, **NO_WATCHDOG}
    loop_id = jobs.policy_loop_instance_id("yearly")
    changed_at = START + timedelta(days=10, hours=1)  # some hops into the wait
    state = tmp_path / "state.db"
    async with run_emulator(APP_DIR, state, virtual_time=True, env=env, start_time=START) as emu:
        first = json.dumps(jobs.dump_json(jobs.PolicyLoopInput(policy_id="yearly")))
        await emu.runtime.start_new(jobs.POLICY_LOOP, loop_id, first)
        await emu.clock.sleep_until(changed_at)
        assert catalog.records("db1") == []
        hourly = YEARLY.model_copy(update={"hourly": HourlyRule(keep_count=5)})
        catalog.repositories.policies.upsert(hourly)
        await emu.runtime.raise_event(loop_id, jobs.POLICY_CHANGED_EVENT, json.dumps("{}"))
        await emu.clock.sleep_until(changed_at + timedelta(hours=2, minutes=30))
        loop = await emu.runtime.get_status(loop_id)
    assert loop is not None and loop["runtimeStatus"] == "Running", loop
    records = sorted(catalog.records("db1"), key=lambda r: r.slot_time)
    # At once: the new tier's latest slot since the last one handled is caught up at the
    # change (10:00, made at 10:20); then its slots run on time.
    ten = changed_at.replace(minute=0)
    slots = [(r.slot_time, r.status, r.created_at) for r in records]
    assert slots == [
        (ten, BackupStatus.SUCCEEDED, changed_at),
        (ten + timedelta(hours=1), BackupStatus.SUCCEEDED, ten + timedelta(hours=1)),
        (ten + timedelta(hours=2), BackupStatus.SUCCEEDED, ten + timedelta(hours=2)),
    ]
