"""Helpers for the runtime's tests: invokers built from real SDK functions, and a runtime
on a virtual clock in a temporary state file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.durable_functions as df
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from emulator.clock import Clock, VirtualClock
from emulator.contracts import (
    ActivityInvoker,
    EntityInvoker,
    FunctionRegistry,
    OrchestratorInvoker,
)
from emulator.history import EventType
from emulator.runtime import DurableRuntime

START = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def orchestrator(fn: Callable[..., Any]) -> OrchestratorInvoker:
    handle = df.Orchestrator.create(fn)

    async def invoke(context: str) -> str:
        return handle(context)

    return invoke


def activity(fn: Callable[[Any], Any]) -> ActivityInvoker:
    """Decodes and encodes like the worker's ActivityTriggerConverter."""

    async def invoke(input_text: str) -> str:
        value = ActivityTriggerConverter.decode(
            meta.Datum(value=input_text, type="string"), trigger_metadata=None
        )
        result = fn(value)
        return ActivityTriggerConverter.encode(result, expected_type=None).value

    return invoke


def entity(fn: Callable[[Any], None]) -> EntityInvoker:
    handle = df.Entity.create(fn)

    async def invoke(batch: str) -> str:
        return handle(batch)

    return invoke


def registry(
    orchestrators: dict[str, Callable[..., Any]] | None = None,
    activities: dict[str, Callable[[Any], Any]] | None = None,
    entities: dict[str, Callable[[Any], None]] | None = None,
) -> FunctionRegistry:
    return FunctionRegistry(
        orchestrators={k: orchestrator(v) for k, v in (orchestrators or {}).items()},
        activities={k: activity(v) for k, v in (activities or {}).items()},
        entities={k.lower(): entity(v) for k, v in (entities or {}).items()},
    )


@asynccontextmanager
async def running(
    functions: FunctionRegistry, state: Path, clock: Clock | None = None, **kwargs: Any
) -> AsyncIterator[DurableRuntime]:
    runtime = DurableRuntime(
        functions, state, hub_name="TestHub", clock=clock or VirtualClock(START), **kwargs
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


def shape(events: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(type name, EventId, TaskScheduledId/TimerId, Name) of each event, for golden checks."""
    shaped = []
    for e in events:
        kind = EventType(e["EventType"])
        ref = e.get("TaskScheduledId", e.get("TimerId"))
        shaped.append((kind.name, e["EventId"], ref, e.get("Name")))
    return shaped


def json_input(value: Any) -> str:
    """The start body the Python client sends: JSON text wrapped in a JSON string."""
    return json.dumps(json.dumps(value))
