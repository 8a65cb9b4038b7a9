"""400 days of production-standard, slot by slot, with retention applied after each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from shared.models import BackupRecord, BackupStatus, Tier, Trigger
from shared.retention import plan_retention
from shared.schedule import slots_between
from shared.seed_policies import seeded_policy
from tests.retention.helpers import apply_plan, live, record

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=400)  # 2027-11-05 00:00, itself a slot
POLICY = seeded_policy("production-standard")


@dataclass
class Walk:
    records: list[BackupRecord] = field(default_factory=list)
    succeeded_slots: dict[Tier, list[datetime]] = field(default_factory=dict)
    slots: int = 0
    now: datetime = START


def walk() -> Walk:
    """Run every slot (every 97th fails; a manual backup every 50 days), then retention."""
    state = Walk(succeeded_slots={tier: [] for tier in Tier})
    for slot in slots_between(POLICY, START, END):
        state.slots += 1
        failed = state.slots % 97 == 0
        status = BackupStatus.FAILED if failed else BackupStatus.SUCCEEDED
        state.records.append(
            record(f"s{state.slots:05d}", slot.at, slot.tier_list(), status=status)
        )
        for tier in slot.tiers if not failed else ():
            state.succeeded_slots[tier].append(slot.at)
        if state.slots % (50 * 24) == 0:
            state.records.append(record(f"m{state.slots:05d}", slot.at, trigger=Trigger.MANUAL))
        state.now = slot.at + timedelta(minutes=20)
        plan = plan_retention(state.records, POLICY, state.now)
        assert not plan.to_finish() and plan.deferred == 0
        # Expired records are history only; dropping them keeps the walk fast.
        state.records = live(apply_plan(state.records, plan))
    return state


@pytest.fixture(scope="module")
def walked() -> Walk:
    return walk()


def kept_by(tier: Tier, state: Walk) -> list[datetime]:
    """Slot times of the backups whose retention rule names this tier's position."""
    plan = plan_retention(state.records, POLICY, state.now)
    rules = {d.record_id: d.rule for d in plan.decisions}
    marker = f"{tier.value} "
    found = [r.slot_time for r in state.records if marker in rules[r.id] and " of " in rules[r.id]]
    return sorted(t for t in found if t is not None)


@pytest.mark.slow
def test_one_slot_per_hour_and_nothing_left_to_delete(walked: Walk) -> None:
    assert walked.slots == 400 * 24  # tiers due together share the hourly slot
    assert plan_retention(walked.records, POLICY, walked.now).to_delete() == []


@pytest.mark.slow
@pytest.mark.parametrize("tier", list(Tier))
def test_each_tier_ends_with_exactly_its_keep_count_newest(walked: Walk, tier: Tier) -> None:
    keep = POLICY.rules()[tier].keep_count
    assert kept_by(tier, walked) == walked.succeeded_slots[tier][-keep:]
    assert len(kept_by(tier, walked)) == keep


@pytest.mark.slow
def test_failed_slots_fall_back_to_older_backups(walked: Walk) -> None:
    # Slot 9506 (2027-11-01 02:00, the monthly) failed: monthly keeps Oct 1 and Sep 1.
    assert kept_by(Tier.MONTHLY, walked) == [
        datetime(2027, 9, 1, 2, tzinfo=UTC),
        datetime(2027, 10, 1, 2, tzinfo=UTC),
    ]
    assert kept_by(Tier.YEARLY, walked) == [datetime(2027, 1, 1, 2, tzinfo=UTC)]
    assert datetime(2027, 11, 1, 2, tzinfo=UTC) not in kept_by(Tier.DAILY, walked)
    assert kept_by(Tier.DAILY, walked)[0] == datetime(2027, 10, 28, 2, tzinfo=UTC)


@pytest.mark.slow
def test_only_kept_backups_and_young_records_survive(walked: Walk) -> None:
    survivors = {r.id: r for r in walked.records}
    kept_slots = {t for tier in Tier for t in kept_by(tier, walked)}
    scheduled_ok = {
        r.slot_time
        for r in survivors.values()
        if r.trigger == Trigger.SCHEDULE and r.status == BackupStatus.SUCCEEDED
    }
    assert scheduled_ok == kept_slots  # the newest (last hourly) is among them
    manual = [r for r in survivors.values() if r.trigger == Trigger.MANUAL]
    assert [r.id for r in manual] == ["m09600"]  # the one taken at the end; older expired
    failed = [r for r in survivors.values() if r.status == BackupStatus.FAILED]
    assert [r.slot_time for r in failed] == [datetime(2027, 11, 1, 2, tzinfo=UTC)]
