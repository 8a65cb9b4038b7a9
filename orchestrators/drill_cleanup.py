"""`drill_cleanup`: a drill whose job ended without finishing is cleaned up.

    drop the scratch database (retried) → release the leases its job held → record the
    drill failed with the reason (unless it is final already) → notify

Started (instance id `cleanup-<drill job>`) by the watchdog for every drill record that is
not final, or whose scratch database was not dropped, once its job no longer runs.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.drill_steps import drop_scratch, finish_drill, notify_if_failed
from orchestrators.leases import release_lease
from shared.jobs import (
    DATABASE_ENTITY,
    DRILL_CLEANUP,
    SERVER_ENTITY,
    DrillCleanup,
    ScratchRestored,
    dump_json,
)


@bp.orchestration_trigger(context_name="context", orchestration=DRILL_CLEANUP)
def drill_cleanup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = DrillCleanup.model_validate(context.get_input())
    record = job.record
    dropped = yield from drop_scratch(context, record)
    if job.holder is not None:
        release_lease(context, df.EntityId(DATABASE_ENTITY, record.database_id), job.holder)
        if record.target_server_id is not None:
            server = df.EntityId(SERVER_ENTITY, record.target_server_id)
            release_lease(context, server, job.holder)
    failed = ScratchRestored(ok=False, error=job.reason)
    finished = yield from finish_drill(context, record, failed)
    yield from notify_if_failed(context, finished)
    return dump_json(finished.record.model_copy(update={"scratch_dropped": dropped}))
