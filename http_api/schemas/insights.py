"""Bodies of the routes the console draws from: overview, calendar, storage, running jobs,
system status and the policy preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from http_api.schemas.common import Query, ScheduleDatetime
from shared.insights import (
    CalendarCell,
    DatabaseHealth,
    StoragePoint,
    TierUsage,
)
from shared.models import (
    DailyRule,
    HourlyRule,
    Identifier,
    Model,
    MonthlyRule,
    WeeklyRule,
    YearlyRule,
)


class UpcomingSlot(Model):
    at: datetime
    tiers: list[str]
    database_ids: list[str]


class Overview(Model):
    generated_at: datetime
    databases: list[DatabaseHealth] = Field(description="stale first, then oldest success")
    storage_by_tier: list[TierUsage] = Field(
        description="a backup serving several tiers counts under its longest-kept one"
    )
    next_slots: list[UpcomingSlot]


class CalendarQuery(Query):
    database_id: Identifier | None = None
    since: ScheduleDatetime | None = Field(
        default=None, alias="from", description="default: -14 days; at most 400 days before 'to'"
    )
    until: ScheduleDatetime | None = Field(default=None, alias="to", description="default: +1 day")

    @model_validator(mode="after")
    def _range_in_order(self) -> CalendarQuery:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("'from' must be before 'to'")
        return self


class CalendarRow(Model):
    database_id: str
    name: str
    policy_id: str | None = None
    slots: list[CalendarCell]
    manual: list[CalendarCell]


class Calendar(Model):
    start: datetime
    end: datetime
    rows: list[CalendarRow]


class StorageQuery(Query):
    days: int = Field(default=30, ge=2, le=366)


class DatabaseUsage(Model):
    database_id: str
    backups: int = 0
    stored_bytes: int = 0


class StorageReport(Model):
    generated_at: datetime
    stored_bytes: int
    backups: int
    by_database: list[DatabaseUsage]
    by_tier: list[TierUsage]
    over_time: list[StoragePoint]
    retention_frees: list[DatabaseUsage] = Field(
        description="what retention would delete if it ran now, per database"
    )


class JobProgress(Model):
    instance_id: str
    kind: str = Field(description="backup, verify, restore or another orchestration's name")
    database_id: str | None = None
    runtime_status: str | None = None
    phase: str | None = None
    record_id: str | None = None
    backup_id: str | None = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None
    started_at: datetime | None = Field(default=None, description="when the dump started")
    raw_bytes: int | None = Field(default=None, description="dumped so far (updated now and then)")
    stored_bytes: int | None = None


class JobList(Model):
    items: list[JobProgress]


class PolicyDraft(Model):
    """A policy being edited: its next slots are computed without saving anything."""

    timezone: str = Field(default="UTC", max_length=64)
    hourly: HourlyRule | None = None
    daily: DailyRule | None = None
    weekly: WeeklyRule | None = None
    monthly: MonthlyRule | None = None
    yearly: YearlyRule | None = None
    count: int = Field(default=10, ge=1, le=50)


class Check(Model):
    name: str
    ok: bool | None = Field(description="null: not applicable here")
    message: str
    latency_ms: float | None = None
    at: datetime | None = None


class Setting(Model):
    name: str
    value: str | None


class ToolVersion(Model):
    name: str
    version: str | None
    source: str | None = None


class SystemReport(Model):
    generated_at: datetime
    versions: dict[str, str | None]
    tools: list[ToolVersion]
    configuration: list[Setting] = Field(description="secrets are shown as 'set' or 'not set'")
    dependencies: list[Check]
    servers: list[Check] = Field(description="each server's last connection test")
    network: Check
    roles: dict[str, Any] = Field(description="how people get each role")
