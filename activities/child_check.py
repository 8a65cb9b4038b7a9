"""`find_running_children`: which of the instance ids a loop is about to start still run.

The loops start their children with deterministic ids (database + slot). A child with the
same id can still be running when its slot comes round again: the loop was restarted
(terminated, failed, redeployed) while the slot's backups ran, and resumes from the slot
before. Starting a sub-orchestration over a running instance is not refused on Azure: a
new execution silently starts over the running one (the emulator fails the parent
instead). So the loop asks first, through the durable client, and skips those.
"""

from __future__ import annotations

import asyncio
import logging

import azure.durable_functions as df

from activities import bp
from orchestrators.settlement import runtime_status
from shared.jobs import FIND_RUNNING_CHILDREN, RUNNING_STATUSES, ChildCheck

log = logging.getLogger(__name__)

# Status queries in flight at once (a slot of a large policy checks hundreds of ids).
_CONCURRENT_QUERIES = 16


@bp.activity_trigger(input_name="data", activity=FIND_RUNNING_CHILDREN)
@bp.durable_client_input(client_name="client")
async def find_running_children(data: dict, client: df.DurableOrchestrationClient) -> list[str]:
    """The ids among `instance_ids` whose instance is running, pending or suspended, in the
    order given. A failed status query fails the activity: guessing "not running" could
    start a child over a running one."""
    ids = ChildCheck.model_validate(data).instance_ids
    gate = asyncio.Semaphore(_CONCURRENT_QUERIES)

    async def running(instance_id: str) -> bool:
        async with gate:
            return runtime_status(await client.get_status(instance_id)) in RUNNING_STATUSES

    flags = await asyncio.gather(*(running(instance_id) for instance_id in ids))
    found = [instance_id for instance_id, flag in zip(ids, flags, strict=True) if flag]
    for instance_id in found:
        log.warning("not starting %s again: its previous run is still running", instance_id)
    return found
