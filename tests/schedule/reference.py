"""A slow, obviously-right schedule: scan every UTC minute and ask "is a tier due now?".

It shares no code with shared/schedule.py. A tier is due at minute u when
- u's local wall time matches the tier and is the first occurrence of that wall time
  (fold 0), or
- the clock jumped forward into u (a gap) and a matching wall time was skipped.
Only valid where UTC offsets change on whole minutes (every zone since 1970).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.models import Policy, Tier, TierRule
from shared.schedule import Slot

MINUTE = timedelta(minutes=1)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def matches(tier: Tier, rule: TierRule, wall: datetime) -> bool:
    """Whether a tier fires at this local wall time (minute resolution)."""
    if tier == Tier.HOURLY:
        return wall.minute == rule.minute and wall.hour % rule.every_hours == 0
    if f"{wall.hour:02d}:{wall.minute:02d}" != rule.time:
        return False
    if tier == Tier.DAILY:
        return True
    if tier == Tier.WEEKLY:
        return WEEKDAYS[wall.weekday()] == rule.weekday.value
    last_day = calendar.monthrange(wall.year, wall.month)[1]
    if tier == Tier.MONTHLY:
        return wall.day == min(rule.day, last_day)
    return wall.month == rule.month and wall.day == min(rule.day, last_day)


def _skipped_walls(before: datetime, now: datetime) -> Iterator[datetime]:
    """Wall times strictly between two consecutive minutes' walls, when the clock jumped."""
    wall = before + MINUTE
    while wall < now:
        yield wall
        wall += MINUTE


def due_at(policy: Policy, instant: datetime) -> frozenset[Tier]:
    return _due(policy.rules(), ZoneInfo(policy.timezone), instant)


def _due(rules: dict[Tier, TierRule], zone: ZoneInfo, instant: datetime) -> frozenset[Tier]:
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    before = (instant - MINUTE).astimezone(zone).replace(tzinfo=None, fold=0)
    due = set()
    for tier, rule in rules.items():
        first_occurrence = local.fold == 0 and matches(tier, rule, wall)
        skipped = any(matches(tier, rule, w) for w in _skipped_walls(before, wall))
        if first_occurrence or skipped:
            due.add(tier)
    return frozenset(due)


def reference_slots(policy: Policy, start: datetime, end: datetime) -> list[Slot]:
    """Every slot in (start, end], minute by minute."""
    rules, zone = policy.rules(), ZoneInfo(policy.timezone)  # the same for every minute
    instant = start.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
    slots = []
    while instant <= end:
        tiers = _due(rules, zone, instant)
        if tiers:
            slots.append(Slot(at=instant, tiers=tiers))
        instant += MINUTE
    return slots
