"""The steps of `backup_database` that need more than one line: each is a small generator
the orchestrator delegates to with `yield from`, so the orchestrator reads like its diagram."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from shared.jobs import (
    APPLY_RETENTION,
    CHECK_CONNECTION,
    DUMP_DATABASE,
    SEND_NOTIFICATION,
    BackupJob,
    CheckConnectionInput,
    ConnectionCheck,
    DumpInput,
    DumpResult,
    Notification,
    OutcomeAck,
    PreparedBackup,
    RetentionInput,
    RetentionResult,
    dump_json,
)

Steps = Generator[Any, Any, Any]


def set_phase(
    context: df.DurableOrchestrationContext, phase: str, record_id: str, **extra: Any
) -> None:
    """Custom status: the phase and, once the dump finished, its bytes. A running dump writes
    its bytes so far to the backup record (the orchestration cannot hear from it meanwhile)."""
    context.set_custom_status({"phase": phase, "record_id": record_id, **extra})


def retry_options(prepared: PreparedBackup) -> df.RetryOptions:
    return df.RetryOptions(
        first_retry_interval_in_milliseconds=prepared.dump_retry_seconds * 1000,
        max_number_of_attempts=prepared.dump_max_attempts,
    )


def check_and_dump(
    context: df.DurableOrchestrationContext, job: BackupJob, prepared: PreparedBackup
) -> Generator[Any, Any, tuple[DumpResult | None, str | None]]:
    """Tests the connection, then dumps; transient failures are retried by both activities.
    Returns (dump, None) or (None, reason)."""
    retry = retry_options(prepared)
    ids = {"database_id": job.database_id, "record_id": prepared.record_id}
    try:
        check = ConnectionCheck.model_validate(
            (
                yield context.call_activity_with_retry(
                    CHECK_CONNECTION, retry, dump_json(CheckConnectionInput(**ids))
                )
            )
        )
        if not check.ok:
            return None, check.error or "connection test failed"
        set_phase(context, "dumping", prepared.record_id)
        result = yield context.call_activity_with_retry(
            DUMP_DATABASE, retry, dump_json(DumpInput(**ids, now=context.current_utc_datetime))
        )
        return DumpResult.model_validate(result), None
    except Exception as exc:  # the last attempt failed: the finish activity sanitises the text
        return None, str(exc)


def apply_retention(context: df.DurableOrchestrationContext, database_id: str) -> Steps:
    """Never fails the backup: a retention problem is retried by the next run."""
    request = RetentionInput(database_id=database_id, now=context.current_utc_datetime)
    try:
        result = yield context.call_activity(APPLY_RETENTION, dump_json(request))
    except Exception:
        return []
    return RetentionResult.model_validate(result).deleted


def notify_if_needed(
    context: df.DurableOrchestrationContext,
    database_id: str,
    record_id: str,
    ack: OutcomeAck,
    error: str | None,
) -> Steps:
    """On every failure, and on the first success after failures (the activity does nothing
    when no NOTIFY_WEBHOOK_URL is set). A lost notification never fails the backup."""
    if ack.consecutive_failures == 0 and not ack.recovered:
        return
    note = Notification(
        event="backup_failed" if ack.consecutive_failures else "backup_recovered",
        database_id=database_id,
        record_id=record_id,
        consecutive_failures=ack.consecutive_failures or ack.previous_failures,
        error=error,
        at=context.current_utc_datetime,
    )
    try:
        yield context.call_activity(SEND_NOTIFICATION, dump_json(note))
    except Exception:
        return
