"""`backup_database`: one database, one slot (or a manual run).

record (queued) → database lock → server slot → connection test → dump (retried)
→ record result → database entity counts → retention → release both → notify
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.backup_steps import apply_retention, check_and_dump, notify_if_needed, set_phase
from orchestrators.leases import release_lease, wait_for_lease
from shared.jobs import (
    BACKUP_DATABASE,
    DATABASE_ENTITY,
    FINISH_BACKUP,
    PREPARE_BACKUP,
    SERVER_ENTITY,
    BackupJob,
    BackupOutput,
    FinishBackupInput,
    FinishedBackup,
    OutcomeAck,
    OutcomeReport,
    PrepareBackupInput,
    PreparedBackup,
    backup_record_id,
    dump_json,
)
from shared.models import BackupStatus


@bp.orchestration_trigger(context_name="context", orchestration=BACKUP_DATABASE)
def backup_database(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = BackupJob.model_validate(context.get_input())
    record_id = backup_record_id(context.instance_id)
    ask = PrepareBackupInput(job=job, record_id=record_id, now=context.current_utc_datetime)
    prepared = PreparedBackup.model_validate(
        (yield context.call_activity(PREPARE_BACKUP, dump_json(ask)))
    )
    output = BackupOutput(**job.model_dump(), record_id=record_id, status=prepared.status)
    if prepared.already_done:
        return dump_json(output)

    database = df.EntityId(DATABASE_ENTITY, job.database_id)
    server = df.EntityId(SERVER_ENTITY, prepared.server_id)
    lease = prepared.lease_seconds
    try:
        set_phase(context, "waiting for the database lock", record_id)
        yield from wait_for_lease(context, database, lease_seconds=lease, record_id=record_id)
        set_phase(context, "waiting for a server slot", record_id)
        yield from wait_for_lease(context, server, lease_seconds=lease, limit=prepared.server_limit)
        dump, error = yield from check_and_dump(context, job, prepared)
        finish = FinishBackupInput(
            database_id=job.database_id,
            record_id=record_id,
            succeeded=dump is not None,
            dump=dump,
            error=error,
            now=context.current_utc_datetime,
        )
        finished = FinishedBackup.model_validate(
            (yield context.call_activity(FINISH_BACKUP, dump_json(finish)))
        )
    except Exception as exc:  # an entity or the record store failed: never leave locks held
        release_lease(context, server)
        release_lease(context, database)
        raise exc
    release_lease(context, server)
    report = OutcomeReport(
        record_id=record_id,
        succeeded=finished.status is BackupStatus.SUCCEEDED,
        tiers=job.tiers,
        at=context.current_utc_datetime,
        error=finished.error,
    )
    ack = OutcomeAck.model_validate(
        (yield context.call_entity(database, "record_outcome", dump_json(report)))
    )
    set_phase(context, "applying retention", record_id, bytes=dump.raw_bytes if dump else None)
    deleted = yield from apply_retention(context, job.database_id)
    release_lease(context, database)
    yield from notify_if_needed(context, job.database_id, record_id, ack, finished.error)
    set_phase(context, "done", record_id, bytes=dump.raw_bytes if dump else None)
    output = output.model_copy(
        update={
            "status": finished.status,
            "error": finished.error,
            "retention_deleted": deleted,
            "blob_name": dump.blob_name if dump else None,
            "stored_bytes": dump.stored_bytes if dump else None,
        }
    )
    return dump_json(output)
