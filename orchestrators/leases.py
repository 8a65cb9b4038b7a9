"""Waiting for a lease held by an entity: ask, and while refused, wait to be woken or for a
durable timer, whichever comes first.

Python entities cannot hold callers (no critical sections) nor signal them. A refused caller
names an external event; the server entity queues it, and the backup that hands its slot
over wakes the first waiter through an activity, so a freed slot is taken at once. The
timer is the fallback (a lease that ran out, a lost wake-up, the database lock, which does
not queue): polls back off, and never come later than the moment the holder's lease ends.
Entities cannot ask the runtime whether a holder's job still runs either, so the refused
caller does (an activity): when it first finds the lease taken, and every few polls after,
and names the holders whose jobs ended (terminated through the management API, failed, or
gone) in its next request, which frees their leases.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from shared.jobs import FIND_FINISHED_HOLDERS, WAKE_LEASE_WAITER, HolderCheck, dump_json
from shared.locks import LeaseGrant, LeaseRelease, LeaseRequest, next_poll

# Refused polls between two checks of the holders (the first refusal is always checked):
# about every five minutes once the polls are 30 s apart.
HOLDER_CHECK_EVERY = 10


def wait_for_lease(
    context: df.DurableOrchestrationContext,
    entity: df.EntityId,
    *,
    lease_seconds: int,
    record_id: str | None = None,
    limit: int = 1,
) -> Generator[Any, Any, LeaseGrant]:
    """Returns once `entity` granted this orchestration the lease (its owner is the instance id)."""
    attempt, reclaim = 0, {}
    while True:
        # a new event name each time: a wake-up meant for an earlier wait cannot end this one
        wake_event = f"{entity.name}-free-{attempt}"
        request = LeaseRequest(
            owner=context.instance_id,
            now=context.current_utc_datetime,
            lease_seconds=lease_seconds,
            record_id=record_id,
            limit=limit,
            reclaim=reclaim,
            wake_event=wake_event,
        )
        grant = LeaseGrant.model_validate(
            (yield context.call_entity(entity, "acquire", dump_json(request)))
        )
        if grant.granted:
            return grant
        reclaim = {}
        if attempt % HOLDER_CHECK_EVERY == 0:
            reclaim = yield from finished_holders(context, grant.holders)
        if not reclaim:
            poll = context.create_timer(next_poll(context.current_utc_datetime, grant, attempt))
            woken = context.wait_for_external_event(wake_event)
            if (yield context.task_any([woken, poll])) is not poll:
                poll.cancel()
        attempt += 1


def finished_holders(
    context: df.DurableOrchestrationContext, holders: dict[str, datetime]
) -> Generator[Any, Any, dict[str, datetime]]:
    """The holders (with the expiry they were seen with) whose jobs no longer run. A check
    that fails finds none: the caller goes on waiting, as it did before checking."""
    others = sorted(holder for holder in holders if holder != context.instance_id)
    if not others:
        return {}
    check = dump_json(HolderCheck(holders=others))
    try:
        finished = yield context.call_activity(FIND_FINISHED_HOLDERS, check)
    except Exception:
        return {}
    return {holder: holders[holder] for holder in finished if holder in holders}


def release_lease(
    context: df.DurableOrchestrationContext, entity: df.EntityId, owner: str | None = None
) -> None:
    """Fire and forget: releasing what is not held changes nothing. `owner` defaults to this
    orchestration (a settlement releases the leases of the job it settles)."""
    release = LeaseRelease(owner=owner or context.instance_id)
    context.signal_entity(entity, "release", dump_json(release))


def hand_over_slot(
    context: df.DurableOrchestrationContext, server: df.EntityId
) -> Generator[Any, Any, None]:
    """Releases this orchestration's server slot and wakes the first backup waiting for one."""
    release = LeaseRelease(owner=context.instance_id, hand_over=True)
    waiter = yield context.call_entity(server, "release", dump_json(release))
    if waiter:
        yield context.call_activity(WAKE_LEASE_WAITER, waiter)
