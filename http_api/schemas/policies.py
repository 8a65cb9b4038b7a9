"""Bodies of the policy routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from http_api.schemas.common import Query, ScheduleDatetime
from shared.models import (
    AccessTier,
    DailyRule,
    DrillSchedule,
    HourlyRule,
    Identifier,
    Model,
    MonthlyRule,
    Policy,
    Tier,
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
    immutable_tiers: list[Tier] = Field(
        default_factory=lambda: [Tier.MONTHLY, Tier.YEARLY],
        max_length=5,
        description="tiers whose backups nobody can delete or overwrite while their tier "
        "keeps them (version-level immutability, needs IMMUTABILITY=on)",
    )
    access_tiers: dict[Tier, AccessTier] = Field(
        default_factory=lambda: {Tier.MONTHLY: AccessTier.COOL, Tier.YEARLY: AccessTier.COLD},
        description="Blob Storage access tier per backup tier; a backup takes the hottest "
        "of the tiers keeping it (hot when not named)",
    )
    encryption_recipients: list[str] = Field(
        default_factory=list, max_length=20,
        description="extra age1… public keys (e.g. a break-glass key) this policy's backups "
        "are also encrypted to",
    )  # fmt: skip
    drill: DrillSchedule | None = Field(default=None, description="scheduled restore drills")


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
    immutable_tiers: list[Tier] | None = Field(default=None, max_length=5)
    access_tiers: dict[Tier, AccessTier] | None = None
    encryption_recipients: list[str] | None = Field(default=None, max_length=20)
    drill: DrillSchedule | None = Field(default=None, description="null removes the drills")


class PolicyPage(Model):
    items: list[Policy]
    continuation: str | None = None


class NextSlotsQuery(Query):
    count: int = Field(default=10, ge=1, le=100)
    after: ScheduleDatetime | None = Field(default=None, description="default: now")


class SlotOut(Model):
    at: datetime
    tiers: list[str]


class NextSlots(Model):
    policy_id: str
    slots: list[SlotOut]
