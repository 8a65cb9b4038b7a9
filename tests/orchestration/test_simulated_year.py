"""400 days of `production-standard` on two databases, through the emulator in virtual time.

The dump is replaced at its seam (BACKUP_WORKER) by a fake that commits a small real blob;
everything else — watchdog, policy loop, backup orchestrations, entities, records, retention
deleting blobs — runs for real. The policy is put in Europe/Amsterdam so the run crosses two
DST changes, and the emulator is stopped half way and restarted on the same state file.

The hourly tier is left out: here every Table Storage round trip to Azurite costs 20-100 ms
and one backup needs about twenty of them, so 9,600 hourly slots on two databases would take
hours (the 400 daily slots take about eight minutes on a busy two-core machine). The daily,
weekly, monthly and yearly tiers (all at 02:00 local, so one dump a day serves every tier
due that day) run in full; hourly slots, their DST behaviour and their retention are covered
by the schedule and retention tests and by the replayed policy loop. SIMULATED_DAYS=30
gives a quick run of the same test.

The watchdog's schedule is relaxed to once a day (WATCHDOG_SCHEDULE): at the default five
minutes, 400 simulated days would be 115,000 watchdog runs that test nothing new.

Afterwards: every slot was backed up exactly once (none missed, none twice), each record
carries its slot's tiers, and what is left per tier equals the policy's keep counts.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.testing import run_emulator
from shared.models import BackupRecord, BackupStatus, Database, Tier
from shared.schedule import slots_between
from shared.seed_policies import seeded_policy
from tests.orchestration.conftest import (
    APP_DIR,
    FAKE_WORKER,
    Catalog,
    blob_names,
    forget_app_modules,
    pg_server,
)

DAYS = int(os.environ.get("SIMULATED_DAYS", "400"))
START = datetime(2025, 12, 31, 23, 50, tzinfo=UTC)
FIRST_WATCHDOG = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
END = FIRST_WATCHDOG + timedelta(days=DAYS, minutes=30)  # between two hourly slots
MIDDLE = FIRST_WATCHDOG + timedelta(days=DAYS // 2, hours=7, minutes=17)
DATABASES = ("db-a", "db-b")
# Without its hourly tier: see the module docstring.
POLICY = seeded_policy("production-standard").model_copy(
    update={"timezone": "Europe/Amsterdam", "hourly": None}
)


def arrange(catalog: Catalog) -> None:
    repositories = catalog.repositories
    repositories.policies.upsert(POLICY)
    server = pg_server("srv1", default_policy_id=POLICY.id, max_concurrent_backups=2)
    repositories.servers.upsert(server)
    for database_id in DATABASES:
        repositories.databases.upsert(Database(id=database_id, server_id="srv1", name=database_id))


async def run_until(env: dict[str, str], state: Path, start: datetime, until: datetime) -> None:
    forget_app_modules()
    async with run_emulator(APP_DIR, state, virtual_time=True, env=env, start_time=start) as emu:
        await emu.clock.sleep_until(until)


def kept_by_tier(records: list[BackupRecord]) -> dict[Tier, list[str]]:
    """For each tier, the newest keep_count slots tagged with it (what retention must keep)."""
    newest = sorted(records, key=lambda record: record.slot_time or START, reverse=True)
    kept: dict[Tier, list[str]] = {}
    for tier, rule in POLICY.rules().items():
        kept[tier] = [r.id for r in newest if tier in r.tiers][: rule.keep_count]
    return kept


@pytest.mark.simulated_year
@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_simulated_year(tmp_path: Path, app_env: dict[str, str], catalog: Catalog) -> None:
    arrange(catalog)
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER, "WATCHDOG_SCHEDULE": "0 0 0 * * *"}
    state = tmp_path / "state.sqlite"
    await run_until(env, state, START, MIDDLE)
    await run_until(env, state, MIDDLE, END)

    expected = {slot.at: slot.tier_list() for slot in slots_between(POLICY, FIRST_WATCHDOG, END)}
    assert len(expected) == DAYS  # one 02:00 slot a day serves every tier due that day
    surviving: set[str | None] = set()
    for database_id in DATABASES:
        records = catalog.records(database_id)
        slots = Counter(record.slot_time for record in records)
        assert set(slots) == set(expected), "a slot was missed or invented"
        assert max(slots.values()) == 1, "a slot was backed up twice"
        for record in records:
            assert record.tiers == expected[record.slot_time]
            assert record.status in (BackupStatus.SUCCEEDED, BackupStatus.EXPIRED)
        alive = {r.id for r in records if r.status is BackupStatus.SUCCEEDED}
        kept = kept_by_tier(records)
        for tier, rule in POLICY.rules().items():
            tagged = sum(tier in tiers for tiers in expected.values())
            assert len(kept[tier]) == min(rule.keep_count, tagged)
            if DAYS >= 400:  # a long run fills every tier
                assert len(kept[tier]) == rule.keep_count
            assert set(kept[tier]) <= alive, f"{tier} lost a backup it must keep"
        assert alive == set().union(*kept.values()), "a backup outlived every tier"
        expired = [r for r in records if r.status is BackupStatus.EXPIRED]
        assert all(r.blob_name is None for r in expired)
        surviving |= {r.blob_name for r in records if r.status is BackupStatus.SUCCEEDED}
    assert blob_names(app_env["BACKUP_CONTAINER"]) == surviving, "retention left or lost blobs"
