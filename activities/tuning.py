"""Settings of the durable jobs that `shared.settings.Settings` does not (yet) hold.

Read from the environment like every other setting; documented in
docs/schedules-and-retention.md.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobTuning(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Attempts of the connection test and of the dump, and the pause between them.
    dump_max_attempts: int = Field(default=3, ge=1, le=10)
    dump_retry_seconds: int = Field(default=60, ge=1, le=3600)
    # "module:attribute" replacing the connection test and dump (see activities/dump_seam.py).
    backup_worker: str | None = None


@lru_cache(maxsize=1)
def job_tuning() -> JobTuning:
    return JobTuning()


def lease_seconds(dump_timeout_seconds: int, tuning: JobTuning) -> int:
    """Long enough for every attempt of the dump plus the pauses between them, with margin:
    a lease that ran out under a live backup would let a second one start."""
    attempts = tuning.dump_max_attempts
    busy = attempts * (dump_timeout_seconds + 300) + (attempts - 1) * tuning.dump_retry_seconds
    return busy + 900
