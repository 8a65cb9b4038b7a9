"""`restore_backup`: restore one stored backup into a (by default new, empty) database.

The restore runs while the source database's lock is held, so a restore and a backup of the
same database never overlap (a restore over the source itself would otherwise race a dump).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.leases import release_lease, wait_for_lease
from shared.jobs import (
    DATABASE_ENTITY,
    RESTORE_BACKUP,
    RUN_RESTORE,
    RestoreJob,
    RestoreOutput,
    dump_json,
)

# Long enough for the longest restore the host allows (functionTimeout is two hours).
RESTORE_LEASE_SECONDS = 3 * 3600


@bp.orchestration_trigger(context_name="context", orchestration=RESTORE_BACKUP)
def restore_backup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = RestoreJob.model_validate(context.get_input())
    job.instance_id = context.instance_id
    database = df.EntityId(DATABASE_ENTITY, job.database_id)
    context.set_custom_status(
        {"phase": "waiting for the database lock", "backup_id": job.backup_id}
    )
    yield from wait_for_lease(context, database, lease_seconds=RESTORE_LEASE_SECONDS)
    context.set_custom_status({"phase": "restoring", "backup_id": job.backup_id})
    try:
        restored = yield context.call_activity(RUN_RESTORE, dump_json(job))
    except Exception as exc:  # no `finally`: a suspended generator's cleanup must not signal
        release_lease(context, database)
        raise exc
    release_lease(context, database)
    result = RestoreOutput.model_validate(restored)
    context.set_custom_status({"phase": "done", "backup_id": job.backup_id, "ok": result.ok})
    return dump_json(result)
