"""The `server` entity: one per server, keyed by its id; at most N backups run at once.

Each slot is a lease held by a backup orchestration; the limit comes with every request
(the server's `max_concurrent_backups`, else SERVER_MAX_CONCURRENT_BACKUPS), so a changed
limit applies from the next request on. Refused callers queue; a slot handed over answers
with the first of them, for its releaser to wake. Logic in `shared.locks`.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from entities import bp
from entities.dispatch import dispatch
from shared.jobs import SERVER_ENTITY, dump_json
from shared.locks import LeaseRelease, LeaseRequest, ServerState, acquire_slot, release_slot


def _acquire(state: ServerState, data: Any) -> tuple[ServerState, Any]:
    state, grant = acquire_slot(state, LeaseRequest.model_validate(data))
    return state, dump_json(grant)


def _release(state: ServerState, data: Any) -> tuple[ServerState, Any]:
    release = LeaseRelease.model_validate(data)
    state, woken = release_slot(state, release.owner, hand_over=release.hand_over)
    return state, dump_json(woken) if woken else None


def _get(state: ServerState, data: Any) -> tuple[ServerState, Any]:
    return state, dump_json(state)


OPERATIONS = {"acquire": _acquire, "release": _release, "get": _get}


@bp.entity_trigger(context_name="context", entity_name=SERVER_ENTITY)
def server(context: df.DurableEntityContext) -> None:
    dispatch(context, ServerState, OPERATIONS)
