"""`drill_database`: one restore drill of one database.

    record (queued; or skipped: no backup, archived, no drill server of its engine)
    → database lock → slot on the drill target's server → restore the backup into the
    scratch database and compare it with the manifest → drop the scratch database (always)
    → release the slot and the lock → record the outcome and the RTO → notify a failure

It takes the same leases as a backup (the database's lock, one of the target server's
`max_concurrent_backups` slots), so a drill never overlaps a backup of its database and
never runs on a server already busy with as many backups as it allows. The scratch
database is dropped whatever the restore came to. A drill that cannot get there (its job
terminated, its worker lost for good) leaves a record that is not final or a scratch
database not dropped: the watchdog finds it and starts `drill_cleanup`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.drill_steps import (
    drop_scratch,
    finish_drill,
    notify_if_failed,
    prepare_drill,
    restore_scratch,
    set_phase,
)
from orchestrators.leases import release_lease, wait_for_lease
from shared.jobs import DATABASE_ENTITY, DRILL_DATABASE, SERVER_ENTITY, DrillJob, dump_json


@bp.orchestration_trigger(context_name="context", orchestration=DRILL_DATABASE)
def drill_database(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = DrillJob.model_validate(context.get_input())
    prepared = yield from prepare_drill(context, job)
    record, lease = prepared.record, prepared.lease_seconds
    if prepared.finished:
        return dump_json(record)

    database = df.EntityId(DATABASE_ENTITY, job.database_id)
    server = df.EntityId(SERVER_ENTITY, record.target_server_id)
    try:
        set_phase(context, "waiting for the database lock", record)
        yield from wait_for_lease(context, database, lease_seconds=lease)
        set_phase(context, "waiting for a server slot", record)
        yield from wait_for_lease(context, server, lease_seconds=lease, limit=prepared.server_limit)
        yield from wait_for_lease(context, database, lease_seconds=lease)  # in full again
        set_phase(context, "restoring", record)
        restored = yield from restore_scratch(context, record)
        set_phase(context, "dropping the scratch database", record)
        yield from drop_scratch(context, record)
    except Exception as exc:  # an entity failed: never leave locks held
        release_lease(context, server)
        release_lease(context, database)
        raise exc
    release_lease(context, server)
    release_lease(context, database)
    finished = yield from finish_drill(context, record, restored)
    yield from notify_if_failed(context, finished)
    set_phase(context, "done", finished.record)
    return dump_json(finished.record)
