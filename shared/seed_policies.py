"""The policies every installation starts with, under ids other code may rely on.

Keep counts follow the project that inspired ours (hourly/daily/weekly/monthly/yearly:
24/15/8/4/2, 12/7/4/2/1 and -/7/2/-/-). Unlike it, every tier fires at 02:00 UTC (hourly
on the hour), so one dump serves all tiers due that night: a Sunday 02:00 is one backup
tagged daily + weekly (+ hourly), not three dumps an hour apart.
"""

from __future__ import annotations

from typing import Any

from shared.models import (
    DailyRule,
    HourlyRule,
    MonthlyRule,
    Policy,
    Weekday,
    WeeklyRule,
    YearlyRule,
)

__all__ = ["SEEDED_POLICIES", "SEEDED_POLICY_IDS", "seeded_policy"]

_NIGHTLY = "02:00"


def _gfs(hourly: int, daily: int, weekly: int, monthly: int, yearly: int) -> dict[str, Any]:
    """Tier rules from keep counts; 0 leaves the tier out."""
    rules = {
        "hourly": HourlyRule(keep_count=hourly, every_hours=1, minute=0) if hourly else None,
        "daily": DailyRule(keep_count=daily, time=_NIGHTLY) if daily else None,
        "weekly": WeeklyRule(keep_count=weekly, weekday=Weekday.SUNDAY, time=_NIGHTLY)
        if weekly
        else None,
        "monthly": MonthlyRule(keep_count=monthly, day=1, time=_NIGHTLY) if monthly else None,
        "yearly": YearlyRule(keep_count=yearly, month=1, day=1, time=_NIGHTLY) if yearly else None,
    }
    return rules


SEEDED_POLICIES: list[Policy] = [
    Policy(
        id="production-critical",
        name="Production (critical)",
        description="Hourly for a day, daily for 15 days, weekly for 8 weeks, monthly for"
        " 4 months, yearly for 2 years.",
        timezone="UTC",
        **_gfs(24, 15, 8, 4, 2),
    ),
    Policy(
        id="production-standard",
        name="Production (standard)",
        description="Hourly for 12 hours, daily for a week, weekly for 4 weeks, monthly for"
        " 2 months, yearly for 1 year.",
        timezone="UTC",
        **_gfs(12, 7, 4, 2, 1),
    ),
    Policy(
        id="development",
        name="Development",
        description="Daily for a week and weekly for 2 weeks.",
        timezone="UTC",
        **_gfs(0, 7, 2, 0, 0),
    ),
]

SEEDED_POLICY_IDS: tuple[str, ...] = tuple(policy.id for policy in SEEDED_POLICIES)


def seeded_policy(policy_id: str) -> Policy:
    """A fresh copy of one seeded policy (callers may change it without touching the seed)."""
    for policy in SEEDED_POLICIES:
        if policy.id == policy_id:
            return policy.model_copy(deep=True)
    raise KeyError(policy_id)
