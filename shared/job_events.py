"""What operators hear of a job: one log line and the metrics when a backup's record becomes
final. Called exactly where that transition is written (a conditional write that changed
the record), so a retried activity does not count a backup twice."""

from __future__ import annotations

import logging
from typing import Any

from shared import telemetry
from shared.job_context import record_context
from shared.models import BackupRecord, BackupStatus

log = logging.getLogger(__name__)
UNKNOWN_ENGINE = "unknown"


def engine_of(servers: Any, server_id: str) -> str:
    """The server's engine, for a record that does not say (the server may be gone)."""
    server = servers.get(server_id)
    return str(server.engine) if server is not None else UNKNOWN_ENGINE


def backup_ended(record: BackupRecord, engine: str) -> None:
    """The record just became final: succeeded, failed or cancelled."""
    seconds = (
        (record.finished_at - record.started_at).total_seconds()
        if record.started_at and record.finished_at
        else None
    )
    with record_context(record):
        if record.status is BackupStatus.SUCCEEDED:
            log.info(
                "backup succeeded: %s bytes dumped, %s stored, in %s s",
                record.raw_bytes, record.stored_bytes, _rounded(seconds),
            )  # fmt: skip
        else:
            log.warning("backup %s: %s", record.status.value, record.error or "no reason given")
    succeeded = record.status is BackupStatus.SUCCEEDED
    telemetry.backup_ended(
        engine=engine,
        database_id=record.database_id,
        server_id=record.server_id,
        outcome=record.status.value,
        started_at=record.started_at,
        finished_at=record.finished_at,
        raw_bytes=record.raw_bytes if succeeded else None,
        stored_bytes=record.stored_bytes if succeeded else None,
    )


def _rounded(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.1f}"
