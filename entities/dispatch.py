"""What every entity here does with one operation: load its typed state, run the named
operation (a pure function from shared.locks), store the new state, return the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import azure.durable_functions as df
from pydantic import BaseModel

from shared.jobs import dump_json

State = TypeVar("State", bound=BaseModel)
Operation = Callable[[State, Any], tuple[State, Any]]


def dispatch(
    context: df.DurableEntityContext,
    state_type: type[State],
    operations: Mapping[str, Operation[State]],
) -> None:
    operation = operations.get(context.operation_name or "")
    if operation is None:
        raise ValueError(f"unknown operation {context.operation_name!r}")
    state = state_type.model_validate(context.get_state(dict) or {})
    state, result = operation(state, context.get_input())
    context.set_state(dump_json(state))
    context.set_result(result)
