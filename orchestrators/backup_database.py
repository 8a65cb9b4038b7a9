"""`backup_database`: one database, one slot (or a manual run).

    record (queued) → database lock → server slot → lock renewed → connection test → dump (retried
    unless the failure is permanent) → record the result (retried) → hand the server slot over
    → database entity counts the outcome → retention → release the database lock
    → notify (failure, or recovery)

The server slot is handed over to the next backup waiting for it (which is woken); the
database lock is released with a signal; on an exception both are released with signals
before it propagates. Leases expire anyway, and a waiting backup frees the leases of a job
that was terminated, so even a crash cannot hold a lock for long. A record this job could not finish
is settled by the watchdog (`settle_backup`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.backup_steps import (
    apply_retention,
    backup_output,
    check_and_dump,
    notify_if_needed,
    prepare,
    record_result,
    report_outcome,
    set_phase,
)
from orchestrators.leases import hand_over_slot, release_lease, wait_for_lease
from shared.jobs import BACKUP_DATABASE, DATABASE_ENTITY, SERVER_ENTITY, BackupJob, dump_json


@bp.orchestration_trigger(context_name="context", orchestration=BACKUP_DATABASE)
def backup_database(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = BackupJob.model_validate(context.get_input())
    prepared = yield from prepare(context, job)
    if prepared.already_done:
        return dump_json(backup_output(job, prepared.record_id, prepared.status))

    record_id, lease = prepared.record_id, prepared.lease_seconds
    database = df.EntityId(DATABASE_ENTITY, job.database_id)
    server = df.EntityId(SERVER_ENTITY, prepared.server_id)
    try:
        set_phase(context, "waiting for the database lock", record_id)
        yield from wait_for_lease(context, database, lease_seconds=lease, record_id=record_id)
        set_phase(context, "waiting for a server slot", record_id)
        yield from wait_for_lease(context, server, lease_seconds=lease, limit=prepared.server_limit)
        # The wait for a slot may have been long: the dump gets the database lease in full.
        yield from wait_for_lease(context, database, lease_seconds=lease, record_id=record_id)
        dump, error = yield from check_and_dump(context, prepared)
        finished = yield from record_result(context, prepared, job, dump, error)
        yield from hand_over_slot(context, server)
        ack = yield from report_outcome(context, database, job.tiers, finished)
        set_phase(context, "applying retention", record_id, bytes=dump.raw_bytes if dump else None)
        deleted = yield from apply_retention(context, job.database_id, prepared.policy_id)
    except Exception as exc:  # an entity or the record store failed: never leave locks held
        release_lease(context, server)
        release_lease(context, database)
        raise exc
    release_lease(context, database)
    yield from notify_if_needed(context, job.database_id, record_id, ack, finished.error)
    set_phase(context, "done", record_id, bytes=dump.raw_bytes if dump else None)
    return dump_json(backup_output(job, record_id, finished.status, finished, dump, deleted))
