"""Bodies of the backup, job, status and audit routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from http_api.schemas.common import Query, UtcDatetime
from http_api.schemas.drills import DatabaseDrill
from shared.drills import SCRATCH_PREFIX, is_scratch_name
from shared.engines.registry import is_system_database
from shared.models import (
    AuditEntry,
    BackupRecord,
    BackupStatus,
    DatabaseName,
    Identifier,
    Model,
    Tier,
)


class BackupListQuery(Query):
    database_id: Identifier | None = None
    server_id: Identifier | None = None
    status: BackupStatus | None = None
    tier: Tier | None = None
    since: UtcDatetime | None = Field(default=None, alias="from", description="inclusive")
    until: UtcDatetime | None = Field(default=None, alias="to", description="exclusive")
    page_size: int = Field(default=50, ge=1, le=200)
    continuation: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def _range_in_order(self) -> BackupListQuery:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("'from' must be before 'to'")
        return self


class BackupPage(Model):
    items: list[BackupRecord]
    continuation: str | None = None


class DownloadLink(Model):
    url: str = Field(description="read-only, for this one blob")
    expires_at: datetime
    blob_name: str
    sha256: str | None = None
    stored_bytes: int | None = None
    compression: str | None = None
    encryption: str | None = Field(default=None, description="'age': decrypt with age -d")
    key_id: str | None = Field(default=None, description="the service key it is encrypted to")


class Rehydration(Model):
    blob_name: str
    message: str


class RestoreBody(Model):
    target_database: DatabaseName = Field(
        description="a new database by default; never a system database (postgres, "
        f"template0, mysql, sys, information_schema, master, msdb, …) nor a name starting "
        f"with {SCRATCH_PREFIX} (reserved for restore drills)"
    )
    target_server_id: Identifier | None = Field(default=None, description="default: the same")
    allow_non_empty: bool = Field(default=False, description="restore over existing tables")

    @field_validator("target_database")
    @classmethod
    def _not_a_system_database(cls, value: str) -> str:
        if is_system_database(value):
            raise ValueError(f"{value} is a system database; restore into a database of your own")
        if is_scratch_name(value):
            raise ValueError(
                f"names starting with {SCRATCH_PREFIX} are reserved for restore drills"
            )
        return value


class AuditQuery(Query):
    actor: str | None = Field(default=None, max_length=256)
    action: str | None = Field(default=None, max_length=64)
    resource: str | None = Field(default=None, max_length=256)
    since: UtcDatetime | None = Field(default=None, alias="from", description="inclusive")
    until: UtcDatetime | None = Field(default=None, alias="to", description="exclusive")
    page_size: int = Field(default=50, ge=1, le=200)
    continuation: str | None = Field(default=None, max_length=4096)


class AuditPage(Model):
    items: list[AuditEntry]
    continuation: str | None = None


class Counts(Model):
    succeeded: int
    failed: int
    success_rate: float | None = Field(description="null when nothing finished")


class StorageTotals(Model):
    backups: int
    stored_bytes: int
    raw_bytes: int


class StaleDatabase(Model):
    database_id: str
    policy_id: str | None
    last_success_at: datetime | None
    allowed_hours: float
    reason: str | None = Field(
        default=None, description="why, as the watchdog last found it (null: not yet checked)"
    )


class RunningJob(Model):
    instance_id: str
    name: str | None = None
    runtime_status: str | None = None
    created_time: datetime | None = None


class StatusReport(Model):
    generated_at: datetime
    storage: StorageTotals
    last_24h: Counts
    last_7d: Counts
    stale_databases: list[StaleDatabase]
    running_jobs: list[RunningJob]
    drills: list[DatabaseDrill] = Field(
        default_factory=list, description="each database's latest restore drill"
    )
