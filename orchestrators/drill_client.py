"""Client-side helper for the watchdog: drills whose jobs ended without finishing, or
without dropping their scratch database, get a `drill_cleanup`."""

from __future__ import annotations

import asyncio
import logging

import azure.durable_functions as df

from activities.wiring import services
from orchestrators.settlement import runtime_status, why_unfinished
from shared.jobs import (
    DRILL_CLEANUP,
    RUNNING_STATUSES,
    DrillCleanup,
    drill_cleanup_instance_id,
    dump_json,
)
from shared.models import FINAL_DRILL_STATUSES, DrillRecord

log = logging.getLogger(__name__)


async def _cleanup(
    client: df.DurableOrchestrationClient, record: DrillRecord
) -> DrillCleanup | None:
    """The cleanup a drill needs, if its job no longer runs."""
    status = await client.get_status(record.instance_id) if record.instance_id else None
    runtime = runtime_status(status)
    if runtime in RUNNING_STATUSES:
        return None
    if record.status in FINAL_DRILL_STATUSES:
        reason = "its scratch database was not dropped"
    else:
        reason = f"interrupted: {why_unfinished(runtime, 'drill')}"
    return DrillCleanup(record=record, holder=record.instance_id, reason=reason)


async def clean_up_drills(client: df.DurableOrchestrationClient) -> int:
    """Starts the cleanup of every drill left behind by a job that no longer runs (unless
    its cleanup is running); how many were started."""
    left = await asyncio.to_thread(services().repositories.drills.left_behind)
    started = 0
    for record in left:
        try:
            job = await _cleanup(client, record)
            if job is None:
                continue
            instance_id = drill_cleanup_instance_id(record.instance_id or record.id)
            if runtime_status(await client.get_status(instance_id)) in RUNNING_STATUSES:
                continue
            await client.start_new(DRILL_CLEANUP, instance_id, dump_json(job))
            started += 1
            log.warning("drill %s of %s: %s", record.id, record.database_id, job.reason)
        except Exception:  # one drill must not keep the others from being cleaned up
            log.exception("could not check drill %s of %s", record.id, record.database_id)
    return started
