"""When a policy's backups are due: pure schedule math, no I/O and no clock.

Every tier fires at wall-clock times in the policy's IANA time zone:

- hourly: every `every_hours` hours at `minute`, aligned to local midnight each day
  (every 6 hours → 00, 06, 12, 18 local; every 5 → 00, 05, 10, 15, 20, then 00 again);
- daily at `time`; weekly on `weekday` at `time`; monthly on `day` at `time`, with days
  29-31 clamped to the month's last day; yearly on `month`/`day` at `time`, Feb 29 falling
  on Feb 28 in common years.

Daylight saving time:

- a wall time that does not exist (spring forward gap) fires at the first valid instant
  after the gap, i.e. the transition itself (02:30 in a 02:00→03:00 gap fires at 03:00);
  if another wall time of the same tier also lands there, the two are one firing;
- a wall time that occurs twice (fall back) fires once, at its first occurrence (fold=0).
  An hourly tier therefore never fires twice in one wall-clock hour and never skips a
  whole day; across fall back one real hour simply has no slot.

One dump serves every tier due at the same instant: a `Slot` carries the set of tiers.
A policy's restore drills (`drill`) fire by the same rules: a drill schedule is a daily,
weekly or monthly tier rule of its own (`next_drill`, `latest_missed_drill`).

All instants in and out are aware datetimes; outputs are in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator

from shared.models import (
    DailyRule,
    HourlyRule,
    MonthlyRule,
    Policy,
    Tier,
    TierRule,
    WeeklyRule,
    YearlyRule,
)

__all__ = [
    "TIER_ORDER",
    "Slot",
    "latest_missed_drill",
    "latest_missed_slots",
    "next_drill",
    "next_slot",
    "slots_between",
    "tiers_due_at",
]

TIER_ORDER: tuple[Tier, ...] = tuple(Tier)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# No two UTC offsets differ by more than this (UTC-12 to UTC+14): a wall time later than an
# instant's own wall time by more than this cannot resolve to an instant before it.
_OFFSET_SPAN = timedelta(hours=26)
_TICK = timedelta(microseconds=1)


class Slot(BaseModel):
    """One scheduled instant (UTC) and every tier due at it: one dump serves them all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    tiers: frozenset[Tier]

    @field_validator("at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @field_serializer("tiers")
    def _tiers_in_order(self, tiers: frozenset[Tier]) -> list[str]:
        # A stable order keeps serialised slots (orchestration inputs) deterministic.
        return [tier.value for tier in TIER_ORDER if tier in tiers]

    def tier_list(self) -> list[Tier]:
        """The tiers in hourly → yearly order."""
        return [tier for tier in TIER_ORDER if tier in self.tiers]


# --- public API ----------------------------------------------------------------------------


def next_slot(policy: Policy, after: datetime) -> Slot | None:
    """The first slot strictly after `after`, or None when the policy has no enabled tier."""
    after = _as_utc(after)
    zone = ZoneInfo(policy.timezone)
    fires = {tier: _next_fire(rule, zone, after) for tier, rule in policy.rules().items()}
    if not fires:
        return None
    at = min(fires.values())
    return Slot(at=at, tiers=frozenset(tier for tier, fire in fires.items() if fire == at))


def tiers_due_at(policy: Policy, at: datetime) -> frozenset[Tier]:
    """The tiers that fire exactly at `at` (empty when `at` is not a slot)."""
    at = _as_utc(at)
    zone = ZoneInfo(policy.timezone)
    just_before = at - _TICK
    rules = policy.rules().items()
    return frozenset(tier for tier, rule in rules if _next_fire(rule, zone, just_before) == at)


def slots_between(policy: Policy, start: datetime, end: datetime) -> Iterator[Slot]:
    """Every slot with start < slot.at <= end, in time order."""
    end = _as_utc(end)
    slot = next_slot(policy, start)
    while slot is not None and slot.at <= end:
        yield slot
        slot = next_slot(policy, slot.at)


def latest_missed_slots(policy: Policy, last_run: datetime, now: datetime) -> list[Slot]:
    """Catch-up after downtime: the most recent slot of each tier in (last_run, now].

    Older missed slots are dropped (never a storm); tiers whose most recent missed slot is
    the same instant share one slot. Sorted oldest first.
    """
    last_run, now = _as_utc(last_run), _as_utc(now)
    zone = ZoneInfo(policy.timezone)
    latest: dict[datetime, set[Tier]] = {}
    for tier, rule in policy.rules().items():
        fire = _previous_fire(rule, zone, now)
        if fire is not None and fire > last_run:
            latest.setdefault(fire, set()).add(tier)
    return [Slot(at=at, tiers=frozenset(tiers)) for at, tiers in sorted(latest.items())]


def next_drill(policy: Policy, after: datetime) -> datetime | None:
    """The first drill strictly after `after`; None when the policy has no enabled drill."""
    if policy.drill is None or not policy.drill.enabled:
        return None
    return _next_fire(policy.drill.rule(), ZoneInfo(policy.timezone), _as_utc(after))


def latest_missed_drill(policy: Policy, last_run: datetime, now: datetime) -> datetime | None:
    """Catch-up after downtime: the most recent drill in (last_run, now], if any (older
    missed drills are dropped, as missed backup slots are)."""
    if policy.drill is None or not policy.drill.enabled:
        return None
    fire = _previous_fire(policy.drill.rule(), ZoneInfo(policy.timezone), _as_utc(now))
    return fire if fire is not None and fire > _as_utc(last_run) else None


# --- one tier --------------------------------------------------------------------------------


def _next_fire(rule: TierRule, zone: ZoneInfo, after: datetime) -> datetime:
    """The first firing of one tier strictly after `after` (UTC).

    Resolution is monotonic in wall time and the wall time of `after` itself resolves to
    `after` or earlier, so no wall time up to it can fire later: the scan starts there.
    """
    floor = _wall_of(after, zone)
    for day in _fire_dates(rule, floor.date(), forward=True):
        for clock in _wall_times(rule):
            wall = datetime.combine(day, clock)
            if wall <= floor:
                continue
            fire = _resolve(wall, zone)
            if fire > after:
                return fire
    raise AssertionError("unreachable: fire dates are endless")  # pragma: no cover


def _previous_fire(rule: TierRule, zone: ZoneInfo, at_or_before: datetime) -> datetime | None:
    """The last firing of one tier at or before `at_or_before` (UTC); None before year 2."""
    ceiling = _wall_of(at_or_before, zone) + _OFFSET_SPAN
    try:
        for day in _fire_dates(rule, ceiling.date(), forward=False):
            for clock in reversed(_wall_times(rule)):
                wall = datetime.combine(day, clock)
                if wall > ceiling:
                    continue
                fire = _resolve(wall, zone)
                if fire <= at_or_before:
                    return fire
    except (OverflowError, ValueError):
        return None
    return None  # pragma: no cover


def _wall_times(rule: TierRule) -> tuple[time, ...]:
    """The local times of day at which a tier fires on its fire dates, earliest first."""
    if isinstance(rule, HourlyRule):
        return _hourly_times(rule.every_hours, rule.minute)
    assert isinstance(rule, DailyRule | WeeklyRule | MonthlyRule | YearlyRule)
    return _clock(rule.time)


@cache
def _hourly_times(every_hours: int, minute: int) -> tuple[time, ...]:
    return tuple(time(hour, minute) for hour in range(0, 24, every_hours))


@cache
def _clock(text: str) -> tuple[time, ...]:
    hours, minutes = text.split(":")
    return (time(int(hours), int(minutes)),)


def _fire_dates(rule: TierRule, start: date, *, forward: bool) -> Iterator[date]:
    """The local dates a tier fires on, from `start` on (inclusive) forwards or backwards."""
    if isinstance(rule, WeeklyRule):
        return _weekly_dates(_WEEKDAYS.index(rule.weekday.value), start, forward)
    if isinstance(rule, MonthlyRule):
        return _monthly_dates(rule.day, start, forward)
    if isinstance(rule, YearlyRule):
        return _yearly_dates(rule.month, rule.day, start, forward)
    return _daily_dates(start, forward)


def _daily_dates(start: date, forward: bool) -> Iterator[date]:
    step = timedelta(days=1 if forward else -1)
    day = start
    while True:
        yield day
        day += step


def _weekly_dates(weekday: int, start: date, forward: bool) -> Iterator[date]:
    shift = (weekday - start.weekday()) % 7 if forward else -((start.weekday() - weekday) % 7)
    step = timedelta(days=7 if forward else -7)
    day = start + timedelta(days=shift)
    while True:
        yield day
        day += step


def _monthly_dates(day: int, start: date, forward: bool) -> Iterator[date]:
    index = start.year * 12 + start.month - 1
    step = 1 if forward else -1
    while True:
        year, month = divmod(index, 12)
        candidate = _clamped(year, month + 1, day)
        if (candidate >= start) if forward else (candidate <= start):
            yield candidate
        index += step


def _yearly_dates(month: int, day: int, start: date, forward: bool) -> Iterator[date]:
    year = start.year
    step = 1 if forward else -1
    while True:
        candidate = _clamped(year, month, day)
        if (candidate >= start) if forward else (candidate <= start):
            yield candidate
        year += step


def _clamped(year: int, month: int, day: int) -> date:
    """`day` of the month, or the month's last day when the month is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# --- wall time → instant ---------------------------------------------------------------------


def _resolve(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a local wall time fires at (first occurrence; gaps move forward)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall_of(first, zone) == wall:
        return first
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant that skips over `wall`: the first instant after the gap.

    Read with the earlier offset the wall time lands after the transition, with the later
    offset before it; the transition is found between the two by bisection on seconds.
    """
    early = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    late = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low = min(early, late)
    skipped = lambda seconds: _wall_of(low + timedelta(seconds=seconds), zone) > wall  # noqa: E731
    below, above = 0, int(abs(late - early).total_seconds())
    while above - below > 1:
        middle = (below + above) // 2
        below, above = (below, middle) if skipped(middle) else (middle, above)
    return low + timedelta(seconds=above)


def _wall_of(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("schedule instants must be time-zone aware")
    return value.astimezone(UTC)
