"""Immutability dates and access tiers from a policy (shared/protection.py), and how
retention honours legal holds and unexpired immutability policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.models import (
    AccessTier,
    DailyRule,
    HourlyRule,
    MonthlyRule,
    Policy,
    Tier,
    WeeklyRule,
    YearlyRule,
)
from shared.protection import access_tier_for, immutable_until, kept_until, placement_for
from shared.retention import RetentionAction, plan_retention
from tests.retention.helpers import NOW, record

POLICY = Policy(
    id="p",
    name="p",
    hourly=HourlyRule(keep_count=24, every_hours=2),
    daily=DailyRule(keep_count=7),
    weekly=WeeklyRule(keep_count=4),
    monthly=MonthlyRule(keep_count=12),
    yearly=YearlyRule(keep_count=3),
)
AT = datetime(2027, 1, 31, 2, tzinfo=UTC)


def test_a_tier_keeps_a_backup_keep_count_intervals() -> None:
    assert kept_until(POLICY, Tier.HOURLY, AT) == AT + timedelta(hours=48)
    assert kept_until(POLICY, Tier.DAILY, AT) == AT + timedelta(days=7)
    assert kept_until(POLICY, Tier.WEEKLY, AT) == AT + timedelta(weeks=4)
    # Calendar months: 12 months after Jan 31 is Jan 31; 1 month after is Feb 28.
    assert kept_until(POLICY, Tier.MONTHLY, AT) == datetime(2028, 1, 31, 2, tzinfo=UTC)
    one = POLICY.model_copy(update={"monthly": MonthlyRule(keep_count=1)})
    assert kept_until(one, Tier.MONTHLY, AT) == datetime(2027, 2, 28, 2, tzinfo=UTC)
    assert kept_until(POLICY, Tier.YEARLY, AT) == datetime(2030, 1, 31, 2, tzinfo=UTC)
    disabled = POLICY.model_copy(update={"yearly": None})
    assert kept_until(disabled, Tier.YEARLY, AT) is None


def test_immutable_until_takes_the_longest_immutable_tier_only() -> None:
    assert immutable_until(POLICY, [Tier.DAILY], AT) is None  # not an immutable tier
    assert immutable_until(POLICY, [Tier.DAILY, Tier.MONTHLY], AT) == datetime(
        2028, 1, 31, 2, tzinfo=UTC
    )
    assert immutable_until(POLICY, [Tier.MONTHLY, Tier.YEARLY], AT) == datetime(
        2030, 1, 31, 2, tzinfo=UTC
    )
    none = POLICY.model_copy(update={"immutable_tiers": []})
    assert immutable_until(none, [Tier.YEARLY], AT) is None
    assert immutable_until(POLICY, [], AT) is None  # manual backups


@settings(max_examples=200)
@given(
    keep=st.integers(min_value=1, max_value=40),
    day=st.integers(min_value=1, max_value=28),
    month=st.integers(min_value=1, max_value=12),
)
def test_a_monthly_backup_stays_immutable_until_the_keep_count_th_next_monthly(
    keep: int, day: int, month: int
) -> None:
    """The date is exactly when the keep_count-th newer monthly slot comes: before it the
    backup is still among the newest keep_count, from it on it is not."""
    policy = POLICY.model_copy(update={"monthly": MonthlyRule(keep_count=keep, day=day)})
    taken = datetime(2027, month, day, 2, tzinfo=UTC)
    until = immutable_until(policy, [Tier.MONTHLY], taken)
    slots = []
    year, m = 2027, month
    for _ in range(keep):
        m += 1
        if m > 12:
            year, m = year + 1, 1
        slots.append(datetime(year, m, day, 2, tzinfo=UTC))
    assert until == slots[-1]


def test_the_access_tier_is_the_hottest_of_the_keeping_tiers() -> None:
    assert access_tier_for(POLICY, []) is AccessTier.HOT
    assert access_tier_for(None, [Tier.YEARLY]) is AccessTier.HOT
    assert access_tier_for(POLICY, [Tier.MONTHLY]) is AccessTier.COOL
    assert access_tier_for(POLICY, [Tier.YEARLY]) is AccessTier.COLD
    assert access_tier_for(POLICY, [Tier.DAILY, Tier.YEARLY]) is AccessTier.HOT
    assert access_tier_for(POLICY, [Tier.MONTHLY, Tier.YEARLY]) is AccessTier.COOL


def test_placement_switches_immutability_off_by_setting() -> None:
    placement = placement_for(POLICY, [Tier.YEARLY], AT, immutability=True, locked=True)
    assert placement.access_tier == "cold"
    assert placement.immutable_until == datetime(2030, 1, 31, 2, tzinfo=UTC)
    off = placement_for(POLICY, [Tier.YEARLY], AT, immutability=False, locked=True)
    assert off.immutable_until is None and off.access_tier == "cold"


# --- retention ------------------------------------------------------------------------------


def _policy_daily(keep: int) -> Policy:
    return Policy(id="p", name="p", daily=DailyRule(keep_count=keep))


def test_retention_keeps_a_backup_under_legal_hold_and_says_so() -> None:
    days = [record(f"d{i}", NOW - timedelta(days=i), [Tier.DAILY]) for i in range(4)]
    days[3] = days[3].model_copy(update={"legal_hold": True})
    plan = plan_retention(days, _policy_daily(2), NOW)
    rules = {d.record_id: (d.action, d.rule) for d in plan.decisions}
    assert rules["d3"] == (RetentionAction.KEEP, "kept: legal hold")
    assert rules["d2"][0] is RetentionAction.DELETE


def test_retention_keeps_an_immutable_backup_until_its_date() -> None:
    until = NOW + timedelta(days=3)
    days = [record(f"d{i}", NOW - timedelta(days=i), [Tier.DAILY]) for i in range(4)]
    days[3] = days[3].model_copy(update={"immutable_until": until})
    decided = {d.record_id: d for d in plan_retention(days, _policy_daily(2), NOW).decisions}
    assert decided["d3"].action is RetentionAction.KEEP
    assert decided["d3"].rule == f"kept: immutable until {until:%Y-%m-%d %H:%M} UTC"
    later = {d.record_id: d for d in plan_retention(days, _policy_daily(2), until).decisions}
    assert later["d3"].action is RetentionAction.DELETE  # expired: retention may delete it


def test_a_kept_backup_shows_its_protection_and_the_tiers_keeping_it() -> None:
    until = NOW + timedelta(days=300)
    kept = record("m", NOW, [Tier.DAILY]).model_copy(update={"immutable_until": until})
    [decision] = plan_retention([kept], _policy_daily(2), NOW).decisions
    assert decision.rule.startswith("kept: newest successful backup, daily 1 of 2, immutable")
    assert decision.kept_by == [Tier.DAILY]


def test_a_held_backup_is_never_moved_to_a_cooler_tier() -> None:
    """A legal hold means someone may need the backup soon: retention's tier following
    leaves it where it is rather than cooling it (moves that warm it still happen)."""
    from activities.retention import tier_moves

    policy = POLICY.model_copy(update={"daily": DailyRule(keep_count=1)})
    newest = record("new", NOW - timedelta(days=1), [Tier.DAILY])
    held = record("held", NOW - timedelta(days=10), [Tier.DAILY, Tier.MONTHLY])
    free = record("free", NOW - timedelta(days=40), [Tier.DAILY, Tier.MONTHLY])
    held = held.model_copy(update={"legal_hold": True, "access_tier": AccessTier.HOT})
    free = free.model_copy(update={"access_tier": AccessTier.HOT})
    records = [newest, held, free]
    plan = plan_retention(records, policy, NOW)
    moves = tier_moves(plan.decisions, {r.id: r for r in records}, policy)
    assert [(r.id, tier) for r, tier in moves] == [("free", AccessTier.COOL)]
    # Held and cold already (set by hand): brought back to hot while a daily keeps it.
    cold = newest.model_copy(update={"legal_hold": True, "access_tier": AccessTier.COLD})
    moves = tier_moves(plan.decisions, {r.id: r for r in [cold, held, free]}, policy)
    assert ("new", AccessTier.HOT) in [(r.id, tier) for r, tier in moves]
