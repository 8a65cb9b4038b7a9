"""Trickier interleavings: long timers raced by events, WhenAll waiting for every child, failed
sub-orchestrations, continue_as_new over a pending timer, two callers on one entity."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from emulator.clock import VirtualClock
from tests.emulator.runtime_support import START, json_input, registry, running, shape

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")


def long_race(ctx: Any) -> Any:
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(days=10))
    answer = ctx.wait_for_external_event("answer")
    winner = yield ctx.task_any([timer, answer])
    if winner == answer:
        timer.cancel()
        return ["answered", ctx.current_utc_datetime.isoformat()]
    return "expired"


async def test_event_arriving_between_long_timer_hops(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with running(registry({"race": long_race}), tmp_path / "s.db", clock) as runtime:
        with clock.busy():  # time moves only by hand here
            instance_id = await runtime.start_new("race", None, None)
            await runtime.wait_until_idle()
            clock.advance_to(START + timedelta(days=3))  # the first hop fires
            for _ in range(20):  # loop turns for the timer loop to wake up
                await asyncio.sleep(0)
            await runtime.wait_until_idle()
            after_first_hop = len(runtime.get_history(instance_id))
            await runtime.raise_event(instance_id, "answer", json_input("yes"))
            await runtime.wait_until_idle()
            answered = await runtime.get_status(instance_id)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert after_first_hop == 8
    # the SDK has returned, but the extension still awaits the second hop, a top-level action
    # the SDK appended when the first hop fired: the instance ends when that hop fires
    assert answered is not None and answered["runtimeStatus"] == "Running"
    assert status["output"] == ["answered", (START + timedelta(days=3)).isoformat()]
    assert clock.now() == START + timedelta(days=6)
    assert shape(history) == [
        ("OrchestratorStarted", -1, None, None), ("ExecutionStarted", -1, None, "race"),
        ("TimerCreated", 0, None, None), ("OrchestratorCompleted", -1, None, None),
        ("OrchestratorStarted", -1, None, None), ("TimerFired", -1, 0, None),
        ("TimerCreated", 1, None, None), ("OrchestratorCompleted", -1, None, None),
        ("OrchestratorStarted", -1, None, None), ("EventRaised", -1, None, "answer"),
        ("OrchestratorCompleted", -1, None, None),
        ("OrchestratorStarted", -1, None, None), ("TimerFired", -1, 1, None),
        ("ExecutionCompleted", 2, None, None), ("OrchestratorCompleted", -1, None, None),
    ]  # fmt: skip


def all_or_cleanup(ctx: Any) -> Any:
    try:
        yield ctx.task_all([ctx.call_activity("boom", 1), ctx.call_activity("slow", 2)])
    except Exception:
        cleaned = yield ctx.call_activity("slow", 3)
        return ["cleaned", cleaned]
    return "unreachable"


async def test_when_all_failure_then_more_work(tmp_path: Path) -> None:
    def boom(_: Any) -> None:
        raise RuntimeError("boom")

    functions = registry({"f": all_or_cleanup}, {"boom": boom, "slow": lambda n: n * 10})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("f", None, None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == ["cleaned", 30]
    scheduled = [(e["EventId"], e["Name"]) for e in history if e["EventType"] == 4]
    assert scheduled == [(0, "boom"), (1, "slow"), (2, "slow")]


def failing_child(ctx: Any) -> Any:
    yield ctx.call_activity("boom", None)


def catching_parent(ctx: Any) -> Any:
    try:
        yield ctx.call_sub_orchestrator("child", None, "the-child")
    except Exception as exc:
        return str(exc)
    return "unreachable"


async def test_failed_sub_orchestration_surfaces_in_the_parent(tmp_path: Path) -> None:
    def boom(_: Any) -> None:
        raise RuntimeError("child broke")

    functions = registry({"parent": catching_parent, "child": failing_child}, {"boom": boom})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("parent", None, None)
        status = await runtime.wait_for_instance(instance_id)
        child = await runtime.get_status("the-child")
        history = runtime.get_history(instance_id)

    assert status["runtimeStatus"] == "Completed"
    assert "Orchestrator function 'child' failed" in status["output"]
    assert "child broke" in status["output"]
    assert child is not None and child["runtimeStatus"] == "Failed"
    assert shape(history)[5] == ("SubOrchestrationInstanceFailed", -1, 0, None)


def timer_then_restart(ctx: Any) -> Any:
    generation = ctx.get_input()
    if generation == 1:
        value = yield ctx.wait_for_external_event("go")
        return ["second generation", value]
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    yield ctx.task_any([ctx.call_activity("noop", None), timer])  # the activity wins
    ctx.continue_as_new(1)
    return None


async def test_continue_as_new_drops_pending_timers(tmp_path: Path) -> None:
    functions = registry({"t": timer_then_restart}, {"noop": lambda _: None})
    clock = VirtualClock(START)
    async with running(functions, tmp_path / "s.db", clock) as runtime:
        instance_id = await runtime.start_new("t", None, json_input(0))
        await runtime.wait_until_idle()
        for _ in range(100):  # loop turns in which a virtual clock would jump
            await asyncio.sleep(0)
        moved_to = clock.now()
        waiting = await runtime.get_status(instance_id)
        await runtime.raise_event(instance_id, "go", '"now"')
        status = await runtime.wait_for_instance(instance_id)

    assert waiting is not None and waiting["runtimeStatus"] == "Running"
    assert moved_to == START  # the first generation's timer was dropped, nothing is due
    assert status["output"] == ["second generation", "now"]


def caller(ctx: Any) -> Any:
    counter = df.EntityId("Tally", "shared")
    results = []
    for _ in range(3):
        value = yield ctx.call_entity(counter, "increment")
        results.append(value)
    return results


def tally(ctx: Any) -> None:
    value = ctx.get_state(lambda: 0) + 1
    ctx.set_state(value)
    ctx.set_result(value)


async def test_two_orchestrations_share_one_entity_in_order(tmp_path: Path) -> None:
    functions = registry({"caller": caller}, entities={"Tally": tally})
    async with running(functions, tmp_path / "s.db") as runtime:
        first = await runtime.start_new("caller", None, None)
        second = await runtime.start_new("caller", None, None)
        one = await runtime.wait_for_instance(first)
        two = await runtime.wait_for_instance(second)
        state = await runtime.read_entity("tally", "shared")

    seen = sorted(one["output"] + two["output"])
    assert seen == [1, 2, 3, 4, 5, 6]  # every increment applied exactly once, in FIFO order
    assert one["output"] == sorted(one["output"]) and two["output"] == sorted(two["output"])
    assert state == (True, json.dumps(6))


def signal_and_return(ctx: Any) -> Any:
    ctx.signal_entity(df.EntityId("Tally", "fire-and-forget"), "increment")
    return "sent"
    yield  # a generator without awaits


async def test_signal_sent_by_a_finishing_orchestration_is_delivered(tmp_path: Path) -> None:
    functions = registry({"s": signal_and_return}, entities={"Tally": tally})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("s", None, None)
        status = await runtime.wait_for_instance(instance_id)
        await runtime.wait_until_idle()
        state = await runtime.read_entity("Tally", "fire-and-forget")
        history = runtime.get_history(instance_id)

    assert status["output"] == "sent"
    assert state == (True, "1")
    assert shape(history)[2:4] == [
        ("EventSent", 0, None, "op"),
        ("ExecutionCompleted", 1, None, None),
    ]


async def test_terminating_before_the_first_episode(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    functions = registry({"s": signal_and_return}, entities={"Tally": tally})
    async with running(functions, tmp_path / "s.db", clock) as runtime:
        runtime._work.ready_event.clear()
        instance_id = await runtime.start_new("s", None, None)
        pending = await runtime.get_status(instance_id)
        await runtime.terminate(instance_id, "changed my mind")
        runtime._work.ready_event.set()
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert pending is not None and pending["runtimeStatus"] == "Pending"
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "changed my mind"
    assert [e["EventType"] for e in history] == [12, 0, 3, 1, 13]
