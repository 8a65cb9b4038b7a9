"""Readable examples of the schedule rules, one behaviour each."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.models import (
    DailyRule,
    HourlyRule,
    MonthlyRule,
    Policy,
    Tier,
    Weekday,
    WeeklyRule,
    YearlyRule,
)
from shared.schedule import Slot, latest_missed_slots, next_slot, slots_between, tiers_due_at
from shared.seed_policies import seeded_policy


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def daily_at(clock: str, zone: str = "UTC") -> Policy:
    return Policy(
        id="daily", name="daily", timezone=zone, daily=DailyRule(keep_count=7, time=clock)
    )


def test_sunday_daily_and_weekly_are_one_slot() -> None:
    policy = seeded_policy("development")  # daily 02:00, weekly Sunday 02:00, UTC
    slot = next_slot(policy, utc(2026, 11, 28, 12))  # a Saturday
    assert slot == Slot(at=utc(2026, 11, 29, 2), tiers=frozenset({Tier.DAILY, Tier.WEEKLY}))
    assert next_slot(policy, slot.at) == Slot(at=utc(2026, 11, 30, 2), tiers={Tier.DAILY})


def test_new_year_serves_every_tier_of_production_standard_at_once() -> None:
    slot = next_slot(seeded_policy("production-standard"), utc(2027, 1, 1, 1, 30))
    assert slot is not None
    assert slot.at == utc(2027, 1, 1, 2)
    assert slot.tiers == {Tier.HOURLY, Tier.DAILY, Tier.MONTHLY, Tier.YEARLY}


def test_next_slot_is_strictly_after_even_at_a_slot() -> None:
    policy = daily_at("02:00")
    assert next_slot(policy, utc(2026, 1, 1, 2)).at == utc(2026, 1, 2, 2)
    assert next_slot(policy, utc(2026, 1, 1, 1, 59, 59, 999999)).at == utc(2026, 1, 1, 2)


def test_time_zone_is_respected() -> None:
    policy = daily_at("02:00", "Asia/Kolkata")  # UTC+05:30
    assert next_slot(policy, utc(2026, 6, 1)).at == utc(2026, 6, 1, 20, 30)


def test_spring_forward_gap_fires_at_the_end_of_the_gap() -> None:
    policy = daily_at("02:30", "America/New_York")  # 2026-03-08 02:00 EST → 03:00 EDT
    slot = next_slot(policy, utc(2026, 3, 8))
    assert slot.at == local("America/New_York", 2026, 3, 8, 3, 0)
    assert slot.at == utc(2026, 3, 8, 7)
    assert next_slot(policy, slot.at).at == local("America/New_York", 2026, 3, 9, 2, 30)


def test_lord_howe_half_hour_gap() -> None:
    policy = daily_at("02:15", "Australia/Lord_Howe")  # 2026-10-04 02:00 → 02:30 (+11)
    slot = next_slot(policy, utc(2026, 10, 3, 12))
    assert slot.at == local("Australia/Lord_Howe", 2026, 10, 4, 2, 30)


def test_fall_back_repeated_time_fires_once_at_first_occurrence() -> None:
    policy = daily_at("01:30", "America/New_York")  # 2026-11-01 01:00-02:00 happens twice
    first = local("America/New_York", 2026, 11, 1, 1, 30, fold=0)
    second = local("America/New_York", 2026, 11, 1, 1, 30, fold=1)
    assert second - first == timedelta(hours=1)
    assert next_slot(policy, utc(2026, 11, 1)).at == first
    assert next_slot(policy, first).at == local("America/New_York", 2026, 11, 2, 1, 30)
    assert tiers_due_at(policy, second) == frozenset()


def test_hourly_is_aligned_to_local_wall_clock() -> None:
    policy = Policy(
        id="six",
        name="every six hours",
        timezone="Asia/Kolkata",
        hourly=HourlyRule(keep_count=4, every_hours=6, minute=15),
    )
    day = list(
        slots_between(policy, local("Asia/Kolkata", 2026, 6, 1), local("Asia/Kolkata", 2026, 6, 2))
    )
    walls = [slot.at.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M") for slot in day]
    assert walls == ["00:15", "06:15", "12:15", "18:15"]


@pytest.mark.parametrize(
    ("month", "day", "slots"),
    [(3, 8, 23), (11, 1, 24)],
    ids=["spring-forward", "fall-back"],
)
def test_hourly_across_new_york_dst_days(month: int, day: int, slots: int) -> None:
    """Spring day: 02:00 does not exist and merges into 03:00 (23 slots in 23 real hours);
    fall day: 01:00 fires once (24 slots over 25 real hours)."""
    zone = "America/New_York"
    policy = Policy(id="h", name="h", timezone=zone, hourly=HourlyRule(keep_count=24))
    start = local(zone, 2026, month, day) - timedelta(microseconds=1)
    end = local(zone, 2026, month, day + 1) - timedelta(microseconds=1)
    found = list(slots_between(policy, start, end))
    assert len(found) == slots
    gaps = {b.at - a.at for a, b in itertools.pairwise(found)}
    assert gaps == (
        {timedelta(hours=1)} if month == 3 else {timedelta(hours=1), timedelta(hours=2)}
    )


def test_chatham_quarter_hour_offset_and_its_gap() -> None:
    """Pacific/Chatham is UTC+12:45 and jumps 02:45 → 03:45 (2026-09-27)."""
    policy = daily_at("03:00", "Pacific/Chatham")
    slot = next_slot(policy, utc(2026, 9, 26, 12))
    assert slot.at == local("Pacific/Chatham", 2026, 9, 27, 3, 45)
    assert slot.at == utc(2026, 9, 26, 14)
    assert next_slot(policy, slot.at).at == utc(2026, 9, 27, 13, 15)  # 03:00 at +13:45


def test_london_daily_follows_local_time_across_the_year() -> None:
    policy = daily_at("02:00", "Europe/London")
    assert next_slot(policy, utc(2026, 1, 10)).at == utc(2026, 1, 10, 2)  # GMT
    assert next_slot(policy, utc(2026, 7, 10)).at == utc(2026, 7, 10, 1)  # BST
    # 2026-03-29 01:00 GMT → 02:00 BST: 02:00 exists again, nothing moves.
    assert next_slot(policy, utc(2026, 3, 29)).at == utc(2026, 3, 29, 1)


def test_monthly_day_31_is_clamped_to_the_last_day() -> None:
    policy = Policy(id="m", name="m", monthly=MonthlyRule(keep_count=12, day=31, time="02:00"))
    fires = [
        s.at.date().isoformat() for s in slots_between(policy, utc(2028, 1, 1), utc(2028, 6, 30))
    ]
    assert fires == ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]


def test_yearly_february_29_falls_on_february_28_in_common_years() -> None:
    policy = Policy(
        id="y", name="y", yearly=YearlyRule(keep_count=3, month=2, day=29, time="02:00")
    )
    fires = [
        s.at.date().isoformat() for s in slots_between(policy, utc(2026, 1, 1), utc(2030, 1, 1))
    ]
    assert fires == ["2026-02-28", "2027-02-28", "2028-02-29", "2029-02-28"]


def test_samoa_skipped_day_still_fires_once() -> None:
    """Pacific/Apia skipped 2011-12-30 entirely: its 02:00 moves to the end of the gap."""
    policy = daily_at("02:00", "Pacific/Apia")
    fires = list(slots_between(policy, utc(2011, 12, 28), utc(2011, 12, 31)))
    walls = [s.at.astimezone(ZoneInfo("Pacific/Apia")).strftime("%m-%d %H:%M") for s in fires]
    assert walls == ["12-28 02:00", "12-29 02:00", "12-31 00:00", "12-31 02:00"]


def test_weekly_picks_the_configured_weekday() -> None:
    policy = Policy(
        id="w",
        name="w",
        weekly=WeeklyRule(keep_count=4, weekday=Weekday.WEDNESDAY, time="23:45"),
    )
    slot = next_slot(policy, utc(2026, 11, 26))  # a Thursday
    assert slot.at == utc(2026, 12, 2, 23, 45)
    assert slot.at.strftime("%A") == "Wednesday"


def test_latest_missed_slots_after_downtime_is_one_per_tier() -> None:
    policy = seeded_policy("production-standard")
    # Down from Friday 2026-11-27 10:30 to Tuesday 2026-12-01 09:10: 94 hourly slots,
    # 4 dailies, a weekly (Sunday) and a monthly (Dec 1, also a daily and an hourly) missed.
    missed = latest_missed_slots(policy, utc(2026, 11, 27, 10, 30), utc(2026, 12, 1, 9, 10))
    assert missed == [
        Slot(at=utc(2026, 11, 29, 2), tiers={Tier.WEEKLY}),
        Slot(at=utc(2026, 12, 1, 2), tiers={Tier.DAILY, Tier.MONTHLY}),
        Slot(at=utc(2026, 12, 1, 9), tiers={Tier.HOURLY}),
    ]


def test_latest_missed_slots_is_empty_without_downtime() -> None:
    policy = seeded_policy("production-standard")
    assert latest_missed_slots(policy, utc(2026, 1, 1, 3), utc(2026, 1, 1, 3, 59)) == []
    assert latest_missed_slots(policy, utc(2026, 1, 1, 3), utc(2026, 1, 1, 4)) == [
        Slot(at=utc(2026, 1, 1, 4), tiers={Tier.HOURLY})
    ]


def test_policy_without_enabled_tiers_has_no_slots() -> None:
    policy = Policy(id="off", name="off", daily=DailyRule(keep_count=1, enabled=False))
    assert next_slot(policy, utc(2026, 1, 1)) is None
    assert list(slots_between(policy, utc(2026, 1, 1), utc(2027, 1, 1))) == []
    assert latest_missed_slots(policy, utc(2026, 1, 1), utc(2027, 1, 1)) == []


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_slot(daily_at("02:00"), datetime(2026, 1, 1))


def test_slot_serialises_tiers_in_a_stable_order() -> None:
    slot = Slot(at=local("Europe/London", 2026, 7, 1, 2), tiers=frozenset(reversed(list(Tier))))
    assert slot.at == utc(2026, 7, 1, 1)
    dumped = slot.model_dump(mode="json")
    assert dumped == {"at": "2026-07-01T01:00:00Z", "tiers": [t.value for t in Tier]}
    assert Slot.model_validate(dumped) == slot
