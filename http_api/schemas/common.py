"""Shapes every resource shares: paging, the error body, accepted jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from shared.jobs import JobResult
from shared.models import Model
from shared.storage.codec import as_utc

# Passwords are write-only: accepted in bodies, never returned (responses say has_password).
Password = Annotated[SecretStr, Field(max_length=1024, json_schema_extra={"writeOnly": True})]
Tags = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=256)]],
    Field(max_length=32),
]
# Times in query strings: aware and in UTC, a time without a zone being UTC already, so
# they compare with the stored (aware) times and with each other.


def _to_utc(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        # Year 1 east of UTC (or 9999 west of it) has no UTC instant: a 422, never a 500.
        raise ValueError("the time is out of range") from None


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]

# The schedule math (calendar, next slots) walks forwards and backwards from the instants it
# is given; bounded here it never reaches the ends of `datetime` (which overflowed into a
# 500) and a console, which looks days or months around today, never needs more.
EARLIEST_SCHEDULE_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_SCHEDULE_TIME = datetime(3000, 1, 1, tzinfo=UTC)


def _schedule_time(value: datetime) -> datetime:
    if not EARLIEST_SCHEDULE_TIME <= value < LATEST_SCHEDULE_TIME:
        raise ValueError("the time must be between 1970 and 2999")
    return value


ScheduleDatetime = Annotated[datetime, AfterValidator(_to_utc), AfterValidator(_schedule_time)]


class Query(BaseModel):
    """Query strings: unknown parameters are refused, so a misspelt filter never widens a list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PageQuery(Query):
    page_size: int = Field(default=50, ge=1, le=200)
    continuation: str | None = Field(default=None, max_length=4096)


class ErrorBody(Model):
    code: str
    message: str
    details: Any = None


class ErrorResponse(Model):
    error: ErrorBody


class JobAccepted(Model):
    """A durable job was started (or asked to stop); poll `status_url` (this API,
    role-checked) until its `result` is no longer `running`."""

    instance_id: str
    status_url: str
    record_id: str | None = Field(
        default=None,
        description="the backup record the job writes (backup) or reads (verify, restore); "
        "a drill's own record (drill)",
    )


class JobStatus(Model):
    instance_id: str
    name: str | None = None
    result: JobResult = Field(
        description="what a script should test: running until the job ended, then succeeded, "
        "failed or cancelled. (`runtime_status` is `Completed` for a failed backup too.)"
    )
    runtime_status: str | None = None
    custom_status: Any = None
    output: Any = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None
