"""Waiting for a lease held by an entity: ask, and while refused, sleep on a durable timer.

Python entities cannot hold callers in a queue (no critical sections), so a refused caller
polls, backing off, and never later than the moment the holder's lease runs out.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from shared.jobs import dump_json
from shared.locks import LeaseGrant, LeaseRelease, LeaseRequest, next_poll


def wait_for_lease(
    context: df.DurableOrchestrationContext,
    entity: df.EntityId,
    *,
    lease_seconds: int,
    record_id: str | None = None,
    limit: int = 1,
) -> Generator[Any, Any, LeaseGrant]:
    """Returns once `entity` granted this orchestration the lease (its owner is the instance id)."""
    attempt = 0
    while True:
        request = LeaseRequest(
            owner=context.instance_id,
            now=context.current_utc_datetime,
            lease_seconds=lease_seconds,
            record_id=record_id,
            limit=limit,
        )
        grant = LeaseGrant.model_validate(
            (yield context.call_entity(entity, "acquire", dump_json(request)))
        )
        if grant.granted:
            return grant
        yield context.create_timer(next_poll(context.current_utc_datetime, grant, attempt))
        attempt += 1


def release_lease(context: df.DurableOrchestrationContext, entity: df.EntityId) -> None:
    """Fire and forget: releasing what is not held changes nothing."""
    context.signal_entity(entity, "release", dump_json(LeaseRelease(owner=context.instance_id)))
