"""Freshness and the watchdog through the emulator in virtual time: a database whose backups
fail becomes stale once (one notification however many watchdog runs follow), with the
reason, and fresh once when a backup succeeds again; a policy loop that was killed is
restarted and reported (notification, audit entry, warning)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.testing import run_emulator
from shared import jobs
from shared.models import BackupStatus, Database, FreshnessState, HourlyRule, Policy
from tests.orchestration.conftest import (
    APP_DIR,
    FAKE_WORKER,
    SCRIPTED_WORKER,
    Catalog,
    Webhook,
    pg_server,
)
from tests.orchestration.fake_worker import SCRIPTED_WORKER as SCRIPT

START = datetime(2026, 5, 4, 9, 40, tzinfo=UTC)
POLICY = Policy(id="hourly", name="hourly", hourly=HourlyRule(keep_count=3, every_hours=1))


def arrange(catalog: Catalog) -> None:
    repositories = catalog.repositories
    repositories.policies.upsert(POLICY)
    repositories.servers.upsert(pg_server("srv", default_policy_id=POLICY.id))
    # Created at the start of virtual time (its age counts from then until a first backup).
    database = Database(id="db", server_id="srv", name="fake_db", created_at=START)
    repositories.databases.upsert(database)


def events(webhook: Webhook, *names: str) -> list[dict[str, object]]:
    return [message for message in webhook.received if message["event"] in names]


@pytest.mark.slow
async def test_failing_backups_make_a_database_stale_once_then_fresh_once(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog, webhook: Webhook
) -> None:
    arrange(catalog)
    SCRIPT.reset("permanent", "permanent", "permanent")  # 10:00, 11:00, 12:00 fail
    env = {
        **app_env,
        "BACKUP_WORKER": SCRIPTED_WORKER,
        "NOTIFY_WEBHOOK_URL": webhook.url,
        "FRESHNESS_GRACE_MINUTES": "10",  # RPO: 1 h 10 min
    }
    async with run_emulator(
        APP_DIR, tmp_path / "state.sqlite", virtual_time=True, env=env, start_time=START
    ) as emu:
        await emu.clock.sleep_until(START + timedelta(hours=4, minutes=30))  # 14:10
    # Backups at 10:00, 11:00 and 12:00 failed; 13:00 and 14:00 succeeded.
    statuses = sorted((r.slot_time, r.status) for r in catalog.records("db"))
    failed, succeeded = BackupStatus.FAILED, BackupStatus.SUCCEEDED
    assert [status for _, status in statuses] == [failed] * 3 + [succeeded] * 2
    # Stale from the watchdog's run at 10:55 (09:40 + 1 h 10 min < 10:55), fresh again from
    # its first run after the 13:00 success; each notified once, although some 25 runs
    # found it stale, and some 13 fresh.
    changes = events(webhook, "database_stale", "database_fresh")
    assert [(m["event"], m["at"]) for m in changes] == [
        ("database_stale", "2026-05-04T10:55:00Z"),
        ("database_fresh", "2026-05-04T13:05:00Z"),
    ]
    stale = changes[0]
    assert stale["database_id"] == "db" and stale["policy_id"] == "hourly"
    reason = str(stale["error"])
    assert reason.startswith("failing since 2026-05-04 10:00 UTC (1 failed in a row): ")
    assert "administrator" in reason  # readers see the class of the failure only
    fresh = catalog.repositories.freshness.get("db")
    assert fresh is not None and fresh.state is FreshnessState.FRESH and fresh.notified
    assert fresh.since == datetime(2026, 5, 4, 13, 5, tzinfo=UTC) and fresh.reason is None
    assert [m["event"] for m in events(webhook, "backup_failed", "backup_recovered")] == [
        "backup_failed",
        "backup_failed",
        "backup_failed",
        "backup_recovered",
    ]


@pytest.mark.slow
async def test_a_killed_policy_loop_is_restarted_and_reported(
    tmp_path: Path, app_env: dict[str, str], catalog: Catalog, webhook: Webhook
) -> None:
    arrange(catalog)
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER, "NOTIFY_WEBHOOK_URL": webhook.url}
    loop = jobs.policy_loop_instance_id(POLICY.id)
    async with run_emulator(
        APP_DIR, tmp_path / "state.sqlite", virtual_time=True, env=env, start_time=START
    ) as emu:
        await emu.clock.sleep_until(START + timedelta(minutes=50))  # 10:30, after a backup
        await emu.runtime.terminate(loop, "killed by the test")
        killed = (await emu.wait_for_instance(loop))["runtimeStatus"]
        await emu.clock.sleep_until(START + timedelta(hours=1, minutes=25))  # 11:05
        alive = (await emu.runtime.get_status(loop))["runtimeStatus"]
    assert killed == "Terminated" and alive == "Running"
    restarts = events(webhook, "policy_loop_restarted")
    # The watchdog's first run started the loop (it had never run), its run at 10:35 found it
    # terminated; the others found it running.
    assert [m["error"] for m in restarts] == [
        "the loop of policy hourly was not running (it had never run); "
        "the watchdog started it again",
        "the loop of policy hourly was not running (it had been terminated); "
        "the watchdog started it again",
    ]
    assert all(m["policy_id"] == "hourly" for m in restarts)
    audit = catalog.repositories.audit.list(action="policy_loop.restart").items
    assert sorted(str(entry.details.get("found")) for entry in audit) == ["None", "Terminated"]
    assert {entry.actor for entry in audit} == {"watchdog"}
    assert {entry.resource for entry in audit} == {"policies/hourly"}
    # It resumed from the slot it had handled: 11:00 was backed up, once.
    slots = sorted(r.slot_time for r in catalog.records("db") if r.slot_time)
    assert slots == [START.replace(minute=0) + timedelta(hours=h) for h in (1, 2)]
