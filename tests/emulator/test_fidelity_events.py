"""Two waits for the same event name (issue 11, section 1.1).

The extension keeps pending `WaitForExternalEvent`s on a stack and gives an event to the newest
one, "to make it easier for users to abandon external events that they no longer care about.
The common case is a Task.WhenAny in a loop" (azure-functions-durable-extension
`src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableOrchestrationContext.cs`,
`WaitForExternalEvent` and `RaiseEvent`). The Python SDK does the same
(`azure/durable_functions/models/TaskOrchestrationExecutor.py`, `task_list.pop()`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from emulator.clock import VirtualClock
from emulator.history import EventType, parse_time
from tests.emulator.runtime_support import START, json_input, registry, running


async def until_history_has(runtime: Any, instance_id: str, kind: EventType) -> None:
    """Until the instance has recorded an event of this kind and nothing else is runnable (so
    the test's next event arrives in an episode of its own)."""
    for _ in range(500):
        if any(e["EventType"] == kind for e in runtime.get_history(instance_id)):
            await runtime.wait_until_idle()
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{instance_id} never recorded {kind.name}")


def escalating_approval(ctx: Any) -> Any:
    answer = ctx.wait_for_external_event("approve")
    timeout = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    winner = yield ctx.task_any([answer, timeout])
    if winner == answer:
        timeout.cancel()
        return "approved in time"
    yield ctx.call_activity("escalate", None)
    late = yield ctx.wait_for_external_event("approve")
    return f"approved after escalation: {late}"


async def test_an_event_after_an_abandoned_wait_reaches_the_newest_wait(tmp_path: Path) -> None:
    functions = registry({"approval": escalating_approval}, {"escalate": lambda _: "sent"})
    clock = VirtualClock(START)
    async with running(functions, tmp_path / "s.db", clock) as runtime:
        with clock.busy():  # time moves only when the test says so
            instance_id = await runtime.start_new("approval", None, None)
            await runtime.wait_until_idle()
            clock.advance_to(START + timedelta(hours=1))  # no answer in time: escalation
            await until_history_has(runtime, instance_id, EventType.TaskCompleted)
            await runtime.raise_event(instance_id, "approve", json_input("boss"))
            status = await runtime.wait_for_instance(instance_id, timeout=5)

    assert status["output"] == f"approved after escalation: {json.dumps('boss')}"


def polling(ctx: Any) -> Any:
    for iteration in range(3):
        event = ctx.wait_for_external_event("x")
        timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
        winner = yield ctx.task_any([event, timer])  # the losing timer is not cancelled
        if winner == event:
            return f"event in iteration {iteration}"
    return "no event"


async def test_a_wait_in_a_loop_completes_when_the_event_arrives(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with running(registry({"poll": polling}), tmp_path / "s.db", clock) as runtime:
        with clock.busy():  # time moves only when the test says so
            instance_id = await runtime.start_new("poll", None, None)
            await runtime.wait_until_idle()
            clock.advance_to(START + timedelta(hours=1))  # iteration 0 times out
            await until_history_has(runtime, instance_id, EventType.TimerFired)
            await runtime.raise_event(instance_id, "x", json_input(1))
            status = await runtime.wait_for_instance(instance_id, timeout=5)

    assert status["output"] == "event in iteration 1"
    assert parse_time(status["lastUpdatedTime"]) == START + timedelta(hours=1)


def generations(ctx: Any) -> Any:
    if ctx.get_input() == "second":
        extra = ctx.wait_for_external_event("extra")
        timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
        winner = yield ctx.task_any([extra, timer])
        if winner == extra:
            timer.cancel()
            return f"carried over: {extra.result}"
        return "lost"
    yield ctx.wait_for_external_event("go")
    ctx.continue_as_new("second")
    return None


async def test_an_event_after_continue_as_new_reaches_the_next_generation(
    tmp_path: Path,
) -> None:
    """Issue 11, section 1.6. An `EventRaised` processed after `ContinueAsNew` in the same work
    item goes to the next generation (durabletask `src/DurableTask.Core/
    TaskOrchestrationContext.cs`, `HandleEventRaisedEvent` and `AddEventToNextIteration`;
    `TaskOrchestrationDispatcher.cs` adds the carried events after the new ExecutionStarted);
    Carryover is Azure Storage's default (`src/DurableTask.AzureStorage/
    AzureStorageOrchestrationServiceSettings.cs`, `EventBehaviourForContinueAsNew`)."""
    clock = VirtualClock(START)
    async with running(registry({"g": generations}), tmp_path / "s.db", clock) as runtime:
        with clock.busy():  # were "extra" lost, only its timer could end the instance
            instance_id = await runtime.start_new("g", None, None)
            await runtime.wait_until_idle()
            # both in one batch: "go" continues as new, "extra" comes after it
            await runtime.raise_event(instance_id, "go", json_input(1))
            await runtime.raise_event(instance_id, "extra", json_input(2))
            status = await runtime.wait_for_instance(instance_id, timeout=5)
        history = runtime.get_history(instance_id)

    assert status["output"] == "carried over: 2"
    assert [EventType(e["EventType"]).name for e in history[:3]] == [
        "OrchestratorStarted", "ExecutionStarted", "EventRaised",
    ]  # fmt: skip
    assert history[2]["Name"] == "extra"
