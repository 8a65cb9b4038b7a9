"""Bodies of the policy routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from http_api.schemas.common import Query, UtcDatetime
from shared.models import (
    DailyRule,
    HourlyRule,
    Identifier,
    Model,
    MonthlyRule,
    Policy,
    WeeklyRule,
    YearlyRule,
)


class PolicyCreate(Model):
    id: Identifier | None = Field(default=None, description="generated when omitted")
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone")
    hourly: HourlyRule | None = None
    daily: DailyRule | None = None
    weekly: WeeklyRule | None = None
    monthly: MonthlyRule | None = None
    yearly: YearlyRule | None = None


class PolicyUpdate(Model):
    """Only the fields sent change; a tier sent as null is removed from the policy."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=1024)
    timezone: str | None = Field(default=None, max_length=64)
    hourly: HourlyRule | None = None
    daily: DailyRule | None = None
    weekly: WeeklyRule | None = None
    monthly: MonthlyRule | None = None
    yearly: YearlyRule | None = None


class PolicyPage(Model):
    items: list[Policy]
    continuation: str | None = None


class NextSlotsQuery(Query):
    count: int = Field(default=10, ge=1, le=100)
    after: UtcDatetime | None = Field(default=None, description="default: now")


class SlotOut(Model):
    at: datetime
    tiers: list[str]


class NextSlots(Model):
    policy_id: str
    slots: list[SlotOut]
