"""Properties of the schedule math, checked against a minute-by-minute reference."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models import Policy
from shared.schedule import latest_missed_slots, next_slot, slots_between, tiers_due_at
from tests.schedule.reference import reference_slots
from tests.schedule.strategies import (
    ZONES,
    dst_cases,
    hourly,
    instants,
    month_end_cases,
    policies,
    with_seconds,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def hourly_policies(draw: st.DrawFn) -> Policy:
    zone = draw(st.sampled_from(ZONES))
    return Policy(id="hourly-only", name="hourly only", timezone=zone, hourly=draw(hourly))


@st.composite
def policy_and_instant(draw: st.DrawFn) -> tuple[Policy, datetime]:
    policy = draw(policies())
    return policy, draw(instants(policy.timezone)) + draw(with_seconds)


@SETTINGS
@given(policy_and_instant())
def test_next_slot_is_strictly_later_and_due(case: tuple[Policy, datetime]) -> None:
    policy, after = case
    slot = next_slot(policy, after)
    assert slot is not None
    assert slot.at > after
    assert slot.at.tzinfo == UTC
    assert slot.tiers
    assert tiers_due_at(policy, slot.at) == slot.tiers


@SETTINGS
@given(policy_and_instant())
def test_nothing_due_strictly_between_after_and_next_slot(case: tuple[Policy, datetime]) -> None:
    policy, after = case
    slot = next_slot(policy, after)
    assert slot is not None
    # Every tier's next firing is no earlier than the merged slot.
    for tier in policy.rules():
        alone = policy.model_copy(update={t.value: None for t in policy.rules() if t != tier})
        own = next_slot(alone, after)
        assert own is not None
        assert own.at >= slot.at
        assert (own.at == slot.at) == (tier in slot.tiers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_and_instant(), st.integers(60, 50 * 60))
def test_slots_match_minute_by_minute_reference(
    case: tuple[Policy, datetime], window_minutes: int
) -> None:
    policy, start = case
    end = start + timedelta(minutes=window_minutes)
    assert list(slots_between(policy, start, end)) == reference_slots(policy, start, end)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dst_cases() | month_end_cases())
def test_dst_and_month_end_slots_match_reference(
    case: tuple[Policy, datetime, timedelta],
) -> None:
    policy, start, window = case
    end = start + window
    slots = list(slots_between(policy, start, end))
    assert slots == reference_slots(policy, start, end)
    for slot in slots:
        assert tiers_due_at(policy, slot.at) == slot.tiers


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_and_instant(), st.integers(0, 45 * 24 * 60))
def test_latest_missed_is_the_last_slot_of_each_tier(
    case: tuple[Policy, datetime], downtime_minutes: int
) -> None:
    policy, last_run = case
    now = last_run + timedelta(minutes=downtime_minutes)
    missed = latest_missed_slots(policy, last_run, now)
    expected: dict = {}
    for slot in slots_between(policy, last_run, now):
        for tier in slot.tiers:
            expected[tier] = slot.at
    got = {tier: slot.at for slot in missed for tier in slot.tiers}
    assert got == expected
    # One slot per instant, oldest first, never more than one per tier.
    assert [s.at for s in missed] == sorted({s.at for s in missed})
    assert sum(len(s.tiers) for s in missed) == len(got)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hourly_policies(), st.integers(1995, 2045), st.sampled_from([3, 10]))
def test_hourly_fires_once_per_nominal_hour_and_never_goes_silent(
    policy: Policy, year: int, month: int
) -> None:
    zone = ZoneInfo(policy.timezone)
    every = policy.hourly.every_hours
    start = datetime(year, month, 1, tzinfo=UTC)
    fires = [s.at for s in slots_between(policy, start, start + timedelta(days=45))]
    by_date: dict[str, list[str]] = defaultdict(list)
    for at in fires:
        local = at.astimezone(zone)
        by_date[local.date().isoformat()].append(local.strftime("%H:%M"))
    for walls in by_date.values():
        assert len(walls) == len(set(walls)), "a repeated wall time fired twice"
        assert len(walls) <= len(range(0, 24, every))
    longest = max(b - a for a, b in itertools.pairwise(fires))
    # Alignment to local midnight stretches one interval a day by < every; DST by <= 2 h.
    assert longest < timedelta(hours=every + 3)
