"""Inputs, outcomes and failures of the backup, verify and restore pipelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models import DumpManifest

MIB = 1024 * 1024


class PipelineOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    compression_level: int = Field(default=3, ge=1, le=22)
    compression_threads: int = Field(default=2, ge=0, le=64)
    block_size: int = Field(default=8 * MIB, ge=64 * 1024, le=4000 * MIB)
    upload_concurrency: int = Field(default=4, ge=1, le=64)
    timeout_seconds: float = Field(default=7200, gt=0)
    read_chunk_size: int = Field(default=1 * MIB, ge=64 * 1024)
    # Also count every table in the dump's snapshot (PostgreSQL) and fail on a difference.
    snapshot_row_count: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> PipelineOptions:
        """Options from `shared.settings.Settings` (duck-typed: any object with the same
        attributes, block_size_bytes included)."""
        return cls(
            compression_level=settings.compression_level,
            compression_threads=settings.compression_threads,
            block_size=settings.block_size_bytes,
            upload_concurrency=settings.upload_concurrency,
            timeout_seconds=settings.dump_timeout_seconds,
            snapshot_row_count=settings.manifest_snapshot_count,
        )


class BackupOutcome(BaseModel):
    blob_name: str
    raw_bytes: int
    stored_bytes: int
    sha256: str
    compression: str
    tool_version: str | None
    server_version: str
    manifest: DumpManifest
    duration_seconds: float
    block_count: int
    encryption: str | None = None
    identity_id: str | None = None
    extra_recipients: list[str] = Field(default_factory=list)
    access_tier: str | None = None
    immutable_until: datetime | None = None
    # CPU time the row counting took from the dump stream (on the read-ahead thread).
    row_count_cpu_seconds: float = 0.0


class VerifyOutcome(BaseModel):
    blob_name: str
    ok: bool
    stored_bytes: int = 0
    raw_bytes: int = 0
    sha256: str | None = None
    reason: str | None = Field(default=None, description="why verification failed")
    duration_seconds: float = 0.0


class TableDifference(BaseModel):
    table: str
    expected_rows: int | None
    actual_rows: int | None


class RestoreOutcome(BaseModel):
    blob_name: str
    target_database: str
    raw_bytes: int
    stored_bytes: int
    sha256: str
    duration_seconds: float
    tables_compared: int = 0
    differences: list[TableDifference] = Field(default_factory=list)
    # False when there was no manifest to compare with (nothing was compared).
    compared: bool = True


class PipelineFailed(Exception):
    """A pipeline step failed; the message is sanitised and safe to store and show."""

    def __init__(self, message: str, *, reason: str = "failed") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class BackupFailed(PipelineFailed):
    """Nothing was committed: no blob looks like a backup."""


class RestoreFailed(PipelineFailed):
    pass
