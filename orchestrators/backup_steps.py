"""The steps of `backup_database` that need more than one line: each is a small generator
the orchestrator delegates to with `yield from`, so the orchestrator reads like its diagram."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from shared.jobs import (
    APPLY_RETENTION,
    CHECK_CONNECTION,
    DUMP_DATABASE,
    FINISH_BACKUP,
    PREPARE_BACKUP,
    SEND_NOTIFICATION,
    BackupJob,
    BackupOutput,
    CheckConnectionInput,
    ConnectionCheck,
    DumpInput,
    DumpOutcome,
    DumpResult,
    FinishBackupInput,
    FinishedBackup,
    Notification,
    PrepareBackupInput,
    PreparedBackup,
    RetentionInput,
    RetentionResult,
    backup_record_id,
    dump_json,
)
from shared.locks import OutcomeAck, OutcomeReport
from shared.models import BackupStatus, Tier

Steps = Generator[Any, Any, Any]
# Attempts of a bookkeeping step, the pause doubling each time: 1 + 2 + 4 + 8 first pauses.
BOOKKEEPING_ATTEMPTS = 5


def prepare(
    context: df.DurableOrchestrationContext, job: BackupJob
) -> Generator[Any, Any, PreparedBackup]:
    """Creates (or finds) the record; its id comes from the instance id."""
    record_id = backup_record_id(context.instance_id)
    ask = PrepareBackupInput(
        job=job,
        record_id=record_id,
        instance_id=context.instance_id,
        now=context.current_utc_datetime,
    )
    prepared = yield context.call_activity(PREPARE_BACKUP, dump_json(ask))
    return PreparedBackup.model_validate(prepared)


def with_backoff(
    context: df.DurableOrchestrationContext, activity: str, data: Any, first_pause_seconds: int
) -> Steps:
    """Calls a bookkeeping activity (one that only writes records) until it succeeds, pausing
    between attempts, the pause doubling each time (the SDK's RetryOptions cannot): storage
    may be down for longer than the dump's attempts. With the default 60 s first pause the
    attempts span 15 minutes; if even that is not enough, the watchdog settles the record."""
    pause = timedelta(seconds=first_pause_seconds)
    for attempt in range(1, BOOKKEEPING_ATTEMPTS + 1):
        try:
            return (yield context.call_activity(activity, data))
        except Exception:
            if attempt == BOOKKEEPING_ATTEMPTS:
                raise
        yield context.create_timer(context.current_utc_datetime + pause)
        pause *= 2
    raise AssertionError("unreachable")


def record_result(
    context: df.DurableOrchestrationContext,
    prepared: PreparedBackup,
    job: BackupJob,
    dump: DumpResult | None,
    error: str | None,
) -> Generator[Any, Any, FinishedBackup]:
    finish = FinishBackupInput(
        database_id=job.database_id,
        record_id=prepared.record_id,
        succeeded=dump is not None,
        dump=dump,
        error=error,
    )
    pause = prepared.dump_retry_seconds
    finished = yield from with_backoff(context, FINISH_BACKUP, dump_json(finish), pause)
    return FinishedBackup.model_validate(finished)


def report_outcome(
    context: df.DurableOrchestrationContext,
    database: df.EntityId,
    tiers: list[Tier],
    finished: FinishedBackup,
) -> Generator[Any, Any, OutcomeAck]:
    """The database entity counts consecutive failures and says whether this is a recovery."""
    report = OutcomeReport(
        record_id=finished.record_id,
        succeeded=finished.status is BackupStatus.SUCCEEDED,
        tiers=tiers,
        at=context.current_utc_datetime,
        error=finished.error,
    )
    ack = yield context.call_entity(database, "record_outcome", dump_json(report))
    return OutcomeAck.model_validate(ack)


def backup_output(
    job: BackupJob,
    record_id: str,
    status: BackupStatus,
    finished: FinishedBackup | None = None,
    dump: DumpResult | None = None,
    deleted: list[str] | None = None,
) -> BackupOutput:
    return BackupOutput(
        **job.model_dump(),
        record_id=record_id,
        status=status,
        error=finished.error if finished else None,
        blob_name=dump.blob_name if dump else None,
        stored_bytes=dump.stored_bytes if dump else None,
        retention_deleted=deleted or [],
    )


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
    context: df.DurableOrchestrationContext, prepared: PreparedBackup
) -> Generator[Any, Any, tuple[DumpResult | None, str | None]]:
    """Tests the connection, then dumps; transient failures are retried by both activities,
    the others come back at once. Returns (dump, None) or (None, reason)."""
    retry = retry_options(prepared)
    assert prepared.target is not None  # set whenever there is work to do
    check_input = dump_json(CheckConnectionInput(target=prepared.target))
    try:
        checked = yield context.call_activity_with_retry(CHECK_CONNECTION, retry, check_input)
        check = ConnectionCheck.model_validate(checked)
        if not check.ok:
            return None, check.error or "connection test failed"
        set_phase(context, "dumping", prepared.record_id)
        dump_input = DumpInput(target=prepared.target)
        done = yield context.call_activity_with_retry(DUMP_DATABASE, retry, dump_json(dump_input))
        outcome = DumpOutcome.model_validate(done)
        return outcome.result, outcome.error
    except Exception as exc:  # the last attempt failed: the finish activity sanitises the text
        return None, str(exc)


def apply_retention(
    context: df.DurableOrchestrationContext, database_id: str, policy_id: str | None
) -> Steps:
    """Never fails the backup: a retention problem is retried by the next run."""
    request = RetentionInput(
        database_id=database_id, now=context.current_utc_datetime, policy_id=policy_id
    )
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
