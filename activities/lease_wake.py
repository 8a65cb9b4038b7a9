"""`wake_lease_waiter`: raises the event a queued backup waits on, once a server slot is free.

Python entities cannot signal an orchestration, so the orchestration that handed its slot
over wakes the next waiter through this activity. Best effort: a waiter that is gone needs
nothing, and one that missed the event still polls.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df

from activities import bp
from shared.jobs import WAKE_LEASE_WAITER
from shared.locks import Waiter

log = logging.getLogger(__name__)


@bp.activity_trigger(input_name="data", activity=WAKE_LEASE_WAITER)
@bp.durable_client_input(client_name="client")
async def wake_lease_waiter(data: dict, client: df.DurableOrchestrationClient) -> bool:
    """True when the event was delivered; False when the waiter no longer runs."""
    waiter = Waiter.model_validate(data)
    try:
        await client.raise_event(waiter.owner, waiter.event, None)
    except Exception as exc:  # the client raises plain Exceptions for 404 and 410
        log.info("lease waiter %s was not woken: %s", waiter.owner, exc)
        return False
    return True
