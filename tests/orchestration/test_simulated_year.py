"""`production-standard` on two databases through the emulator in virtual time: 400 days of
its daily, weekly, monthly and yearly tiers, and three days of the whole policy, hourly tier
included, across the autumn DST change.

The dump is replaced at its seam (BACKUP_WORKER) by a fake that commits a small real blob;
everything else — watchdog, policy loop, backup orchestrations, entities, records, retention
deleting blobs — runs for real against Azurite. The policy is put in Europe/Amsterdam, so
the year crosses both DST changes, and every run stops the emulator half way and restarts
it on the same state file.

Why the year leaves the hourly tier out: one backup costs about sixteen storage round
trips (2-4 ms each against Azurite) plus its orchestration, about 0.1 s; the 400 daily slots
on two databases take about 90 s here, and the 9,600 hourly slots would take some 35
minutes. The hourly scenario runs the complete policy over 72 hours instead, which is enough
to fill the hourly tier (12) many times over and to cross the repeated hour of 25 October;
hourly slots over longer spans are covered by the schedule and retention property tests.
SIMULATED_DAYS=30 gives a quick run of the year scenario with the same checks.

The watchdog's schedule is relaxed to once a day (WATCHDOG_SCHEDULE): at the default five
minutes, 400 simulated days would be 115,000 watchdog runs that test nothing new.

Afterwards: every slot was backed up exactly once (none missed, none twice), each record
carries its slot's tiers, and what is left per tier equals the policy's keep counts.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.testing import run_emulator
from shared.models import BackupRecord, BackupStatus, Database, Policy, Tier
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

DATABASES = ("db-a", "db-b")
NEVER = datetime.min.replace(tzinfo=UTC)  # sorts records without a slot last
STANDARD = seeded_policy("production-standard").model_copy(update={"timezone": "Europe/Amsterdam"})


@dataclass(frozen=True)
class Scenario:
    policy: Policy
    first_watchdog: datetime  # a midnight: the watchdog's first run starts the loop
    days: int

    @property
    def start(self) -> datetime:
        return self.first_watchdog - timedelta(minutes=10)

    @property
    def end(self) -> datetime:
        return self.first_watchdog + timedelta(days=self.days, minutes=30)  # between two hours

    @property
    def middle(self) -> datetime:
        return self.first_watchdog + timedelta(days=self.days / 2, hours=7, minutes=17)

    @property
    def fills_every_tier(self) -> bool:
        return self.days >= 400


YEAR = Scenario(
    policy=STANDARD.model_copy(update={"hourly": None}),  # see the module docstring
    first_watchdog=datetime(2026, 1, 1, tzinfo=UTC),
    days=int(os.environ.get("SIMULATED_DAYS", "400")),
)
# 23-26 October 2026: Amsterdam repeats 02:00-03:00 on the 25th.
HOURLY = Scenario(policy=STANDARD, first_watchdog=datetime(2026, 10, 23, tzinfo=UTC), days=3)


def arrange(catalog: Catalog, policy: Policy) -> None:
    repositories = catalog.repositories
    repositories.policies.upsert(policy)
    server = pg_server("srv1", default_policy_id=policy.id, max_concurrent_backups=2)
    repositories.servers.upsert(server)
    for database_id in DATABASES:
        repositories.databases.upsert(Database(id=database_id, server_id="srv1", name=database_id))


async def run_until(env: dict[str, str], state: Path, start: datetime, until: datetime) -> None:
    forget_app_modules()
    async with run_emulator(APP_DIR, state, virtual_time=True, env=env, start_time=start) as emu:
        await emu.clock.sleep_until(until)


def kept_by_tier(policy: Policy, records: list[BackupRecord]) -> dict[Tier, list[str]]:
    """For each tier, the newest keep_count slots tagged with it (what retention must keep)."""
    newest = sorted(records, key=lambda record: record.slot_time or NEVER, reverse=True)
    kept: dict[Tier, list[str]] = {}
    for tier, rule in policy.rules().items():
        kept[tier] = [r.id for r in newest if tier in r.tiers][: rule.keep_count]
    return kept


@pytest.mark.simulated_year
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("scenario", [YEAR, HOURLY], ids=["year", "hourly-across-dst"])
async def test_simulated_year(
    scenario: Scenario, tmp_path: Path, app_env: dict[str, str], catalog: Catalog
) -> None:
    policy = scenario.policy
    arrange(catalog, policy)
    env = {**app_env, "BACKUP_WORKER": FAKE_WORKER, "WATCHDOG_SCHEDULE": "0 0 0 * * *"}
    state = tmp_path / "state.sqlite"
    await run_until(env, state, scenario.start, scenario.middle)
    await run_until(env, state, scenario.middle, scenario.end)

    due = slots_between(policy, scenario.first_watchdog, scenario.end)
    expected = {slot.at: slot.tier_list() for slot in due}
    if policy.hourly is None:
        assert len(expected) == scenario.days  # one 02:00 slot a day serves every tier due
    else:  # wall-clock hours: the repeated 02:00 of 25 October fires once (its first)
        assert len(expected) == scenario.days * 24 - 1
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
        kept = kept_by_tier(policy, records)
        for tier, rule in policy.rules().items():
            tagged = sum(tier in tiers for tiers in expected.values())
            assert len(kept[tier]) == min(rule.keep_count, tagged)
            if scenario.fills_every_tier:
                assert len(kept[tier]) == rule.keep_count
            assert set(kept[tier]) <= alive, f"{tier} lost a backup it must keep"
        assert alive == set().union(*kept.values()), "a backup outlived every tier"
        expired = [r for r in records if r.status is BackupStatus.EXPIRED]
        assert all(r.blob_name is None for r in expired)
        surviving |= {r.blob_name for r in records if r.status is BackupStatus.SUCCEEDED}
    assert blob_names(app_env["BACKUP_CONTAINER"]) == surviving, "retention left or lost blobs"
