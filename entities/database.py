"""The `database` entity: one per database, keyed by its id.

It holds the backup lock (owner + lease), the running record, the last success per tier,
and the consecutive failures with the last error. The logic is `shared.locks`; this only
loads the state, dispatches the operation and stores the result.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from entities import bp
from entities.dispatch import dispatch
from shared.jobs import DATABASE_ENTITY, dump_json
from shared.locks import (
    DatabaseState,
    LeaseRelease,
    LeaseRequest,
    OutcomeReport,
    acquire_lock,
    record_outcome,
    release_lock,
)


def _acquire(state: DatabaseState, data: Any) -> tuple[DatabaseState, Any]:
    state, grant = acquire_lock(state, LeaseRequest.model_validate(data))
    return state, dump_json(grant)


def _release(state: DatabaseState, data: Any) -> tuple[DatabaseState, Any]:
    return release_lock(state, LeaseRelease.model_validate(data).owner), None


def _record(state: DatabaseState, data: Any) -> tuple[DatabaseState, Any]:
    state, ack = record_outcome(state, OutcomeReport.model_validate(data))
    return state, dump_json(ack)


def _get(state: DatabaseState, data: Any) -> tuple[DatabaseState, Any]:
    return state, dump_json(state)


OPERATIONS = {"acquire": _acquire, "release": _release, "record_outcome": _record, "get": _get}


@bp.entity_trigger(context_name="context", entity_name=DATABASE_ENTITY)
def database(context: df.DurableEntityContext) -> None:
    dispatch(context, DatabaseState, OPERATIONS)
