"""The steps of a restore drill that need more than one line, shared by `drill_database` and
`drill_cleanup`: each is a small generator the orchestrator delegates to with `yield from`."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.backup_steps import with_backoff
from shared.jobs import (
    DROP_SCRATCH,
    FINISH_DRILL,
    PREPARE_DRILL,
    RESTORE_SCRATCH,
    SEND_NOTIFICATION,
    DrillJob,
    FinishDrillInput,
    FinishedDrill,
    Notification,
    NotificationEvent,
    PreparedDrill,
    PrepareDrillInput,
    ScratchRestored,
    drill_record_id,
    dump_json,
)
from shared.models import DrillRecord, DrillStatus

# Attempts of a drop (the database server may be briefly unreachable) and the first pause.
DROP_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=4)
# First pause between attempts to record the outcome (it doubles).
FIRST_PAUSE_SECONDS = 30


def set_phase(context: df.DurableOrchestrationContext, phase: str, record: DrillRecord) -> None:
    context.set_custom_status(
        {"phase": phase, "record_id": record.id, "backup_id": record.backup_id}
    )


def prepare_drill(
    context: df.DurableOrchestrationContext, job: DrillJob
) -> Generator[Any, Any, PreparedDrill]:
    """Creates (or finds) the drill record; its id comes from the instance id."""
    ask = PrepareDrillInput(
        job=job,
        drill_id=drill_record_id(context.instance_id),
        instance_id=context.instance_id,
        now=context.current_utc_datetime,
    )
    prepared = yield context.call_activity(PREPARE_DRILL, dump_json(ask))
    return PreparedDrill.model_validate(prepared)


def restore_scratch(
    context: df.DurableOrchestrationContext, record: DrillRecord
) -> Generator[Any, Any, ScratchRestored]:
    """Never raises: an activity that failed (its worker lost, storage down) is a failed drill."""
    try:
        restored = yield context.call_activity(RESTORE_SCRATCH, dump_json(record))
    except Exception as exc:
        return ScratchRestored(ok=False, error=str(exc))
    return ScratchRestored.model_validate(restored)


def drop_scratch(
    context: df.DurableOrchestrationContext, record: DrillRecord
) -> Generator[Any, Any, bool]:
    """Retried; never raises. When it keeps failing, the record says the scratch database is
    not dropped, and the watchdog's cleanup tries again."""
    try:
        yield context.call_activity_with_retry(DROP_SCRATCH, DROP_RETRY, dump_json(record))
    except Exception:
        return False
    return True


def finish_drill(
    context: df.DurableOrchestrationContext, record: DrillRecord, restored: ScratchRestored
) -> Generator[Any, Any, FinishedDrill]:
    ask = dump_json(FinishDrillInput(record=record, restored=restored))
    finished = yield from with_backoff(context, FINISH_DRILL, ask, FIRST_PAUSE_SECONDS)
    return FinishedDrill.model_validate(finished)


def notify_if_failed(
    context: df.DurableOrchestrationContext, finished: FinishedDrill
) -> Generator[Any, Any, None]:
    """A drill this job failed is notified like a failed backup; a lost notification never
    fails the drill."""
    record = finished.record
    if not finished.changed or record.status is not DrillStatus.FAILED:
        return
    note = Notification(
        event=NotificationEvent.DRILL_FAILED,
        database_id=record.database_id,
        record_id=record.id,
        error=record.error,
        at=context.current_utc_datetime,
    )
    try:
        yield context.call_activity(SEND_NOTIFICATION, dump_json(note))
    except Exception:
        return
