"""`settle_backup`: a backup whose job ended without recording its result is settled.

    record failed (with the reason) → release the leases its job held → database entity
    counts the failure → notify

Started (instance id `settle-<job>`) by the watchdog for every queued or running record
whose job no longer runs, and by a backup that finds such a job holding its lease. A record
that is final already (its job finished it after all, or a cancel did) is left as it is,
and nothing is counted or notified twice.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.backup_steps import notify_if_needed, report_outcome, with_backoff
from orchestrators.leases import release_lease
from shared.jobs import (
    DATABASE_ENTITY,
    SERVER_ENTITY,
    SETTLE_BACKUP,
    SETTLE_RECORD,
    FinishedBackup,
    SettledRecord,
    SettleJob,
    dump_json,
)

# First pause between attempts to write the record (it doubles).
FIRST_PAUSE_SECONDS = 30


@bp.orchestration_trigger(context_name="context", orchestration=SETTLE_BACKUP)
def settle_backup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = SettleJob.model_validate(context.get_input())
    data = dump_json(job)
    settled = SettledRecord.model_validate(
        (yield from with_backoff(context, SETTLE_RECORD, data, FIRST_PAUSE_SECONDS))
    )
    if job.holder is not None:
        release_lease(context, df.EntityId(DATABASE_ENTITY, job.database_id), job.holder)
        if settled.server_id is not None:
            release_lease(context, df.EntityId(SERVER_ENTITY, settled.server_id), job.holder)
    if settled.changed and settled.status is not None:
        finished = FinishedBackup(
            record_id=settled.record_id, status=settled.status, error=settled.error
        )
        database = df.EntityId(DATABASE_ENTITY, job.database_id)
        ack = yield from report_outcome(context, database, settled.tiers, finished)
        yield from notify_if_needed(context, job.database_id, job.record_id, ack, settled.error)
    return dump_json(settled)
