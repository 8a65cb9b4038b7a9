"""Hypothesis strategies for policies and instants, biased towards DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from shared.models import (
    DailyRule,
    HourlyRule,
    MonthlyRule,
    Policy,
    Weekday,
    WeeklyRule,
    YearlyRule,
)

ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "America/New_York",
    "America/St_Johns",
    "America/Santiago",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Africa/Casablanca",
]

# Night hours are where DST transitions happen, so times cluster there.
times = st.one_of(
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 4), st.sampled_from([0, 15, 30, 45])),
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
)
keep = st.integers(1, 5)
hourly = st.builds(
    HourlyRule,
    keep_count=keep,
    every_hours=st.sampled_from([1, 1, 2, 3, 4, 5, 6, 7, 8, 12, 24]),
    minute=st.sampled_from([0, 15, 30, 45, 59]) | st.integers(0, 59),
)
daily = st.builds(DailyRule, keep_count=keep, time=times)
weekly = st.builds(WeeklyRule, keep_count=keep, weekday=st.sampled_from(list(Weekday)), time=times)
monthly = st.builds(
    MonthlyRule,
    keep_count=keep,
    day=st.sampled_from([1, 15, 28, 29, 30, 31]) | st.integers(1, 31),
    time=times,
)


# Built once, not per draw: a strategy made inside a composite is analysed on every draw.
months = st.integers(1, 12)
years = st.integers(1995, 2045)
_LONGEST_DAY = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
_DAYS = {
    longest: st.sampled_from([1, longest]) | st.integers(1, longest) for longest in (29, 30, 31)
}


@st.composite
def yearly(draw: st.DrawFn) -> YearlyRule:
    month = draw(months)
    day = draw(_DAYS[_LONGEST_DAY.get(month, 31)])
    return YearlyRule(keep_count=draw(keep), month=month, day=day, time=draw(times))


_OPTIONAL_RULES = {
    "hourly": st.none() | hourly,
    "daily": st.none() | daily,
    "weekly": st.none() | weekly,
    "monthly": st.none() | monthly,
    "yearly": st.none() | yearly(),
}


@st.composite
def policies(draw: st.DrawFn, zones: list[str] | None = None) -> Policy:
    rules = {name: draw(strategy) for name, strategy in _OPTIONAL_RULES.items()}
    if not any(rules.values()):
        rules["daily"] = draw(daily)
    zone = draw(st.sampled_from(zones or ZONES))
    return Policy(id="generated", name="generated", timezone=zone, **rules)


@cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """UTC instants (to the minute) where the zone's offset changes during a year."""
    zone = ZoneInfo(zone_name)
    found = []
    instant = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while instant < end:
        following = instant + timedelta(hours=6)
        if instant.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            found.append(_bisect(zone, instant, following))
        instant = following
    return tuple(found)


def _bisect(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    offset = low.astimezone(zone).utcoffset()
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


@st.composite
def instants(draw: st.DrawFn, zone_name: str) -> datetime:
    """An aware UTC instant, half the time within a day of one of the zone's transitions."""
    year = draw(years)
    known = transitions(zone_name, year)
    if known and draw(st.booleans()):
        base = draw(st.sampled_from(known))
        return base + timedelta(minutes=draw(_NEAR_TRANSITION))
    start = datetime(year, 1, 1, tzinfo=UTC)
    return start + timedelta(minutes=draw(_IN_A_YEAR))


_NEAR_TRANSITION = st.integers(-26 * 60, 26 * 60)
_IN_A_YEAR = st.integers(0, 366 * 24 * 60)


with_seconds = st.integers(0, 59_999_999).map(lambda micro: timedelta(microseconds=micro))


@st.composite
def dst_cases(draw: st.DrawFn) -> tuple[Policy, datetime, timedelta]:
    """A policy whose every tier fires at a wall time a DST transition skips or repeats,
    a start a little before that transition and a window reaching past it."""
    zone_name = draw(st.sampled_from([z for z in ZONES if z != "UTC"]))
    year = draw(st.integers(1995, 2045))
    known = transitions(zone_name, year)
    if not known:
        return draw(dst_cases())
    moment = draw(st.sampled_from(known))
    zone = ZoneInfo(zone_name)
    before = (moment - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
    after = moment.astimezone(zone).replace(tzinfo=None)
    low, high = sorted([before + timedelta(minutes=1), after])
    span = int((high - low).total_seconds() // 60)
    wall = low + timedelta(minutes=draw(st.integers(0, max(span - 1, 0))))
    start = moment - timedelta(minutes=draw(st.integers(1, 6 * 60)))
    return _policy_at(zone_name, wall, draw), start, timedelta(hours=10)


def _policy_at(zone_name: str, wall: datetime, draw: st.DrawFn) -> Policy:
    clock = f"{wall.hour:02d}:{wall.minute:02d}"
    weekday = list(Weekday)[wall.weekday()]
    return Policy(
        id="dst",
        name="dst",
        timezone=zone_name,
        hourly=HourlyRule(
            keep_count=1, minute=wall.minute, every_hours=draw(st.sampled_from([1, 2, 24]))
        ),
        daily=DailyRule(keep_count=1, time=clock),
        weekly=WeeklyRule(keep_count=1, weekday=weekday, time=clock),
        monthly=MonthlyRule(keep_count=1, day=wall.day, time=clock),
        yearly=YearlyRule(keep_count=1, month=wall.month, day=wall.day, time=clock),
    )


@st.composite
def month_end_cases(draw: st.DrawFn) -> tuple[Policy, datetime, timedelta]:
    """Monthly day 28-31 and yearly end-of-February policies near a month's end."""
    zone = draw(st.sampled_from(ZONES))
    clock = draw(times)
    policy = Policy(
        id="month-end",
        name="month end",
        timezone=zone,
        monthly=MonthlyRule(keep_count=1, day=draw(st.integers(28, 31)), time=clock),
        yearly=YearlyRule(keep_count=1, month=2, day=draw(st.integers(28, 29)), time=clock),
    )
    year = draw(st.integers(1995, 2045))
    month = draw(st.sampled_from([2, 4, 6, 9, 11]) | st.integers(1, 12))  # short months first
    first_of_next = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    # The local last day's wall times fall between 38 h before and 12 h after the UTC month
    # end (offsets span UTC-12 to UTC+14), so this window always holds its firing.
    start = first_of_next - timedelta(hours=draw(st.integers(38, 40)))
    return policy, start, timedelta(hours=53)
