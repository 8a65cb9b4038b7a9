"""The patterns the product leans on: a policy loop racing a timer against an event before
continue_as_new, and sub-orchestrations started with fixed instance ids."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.clock import VirtualClock
from tests.emulator.runtime_support import START, json_input, registry, running, shape

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")


def policy_loop(ctx: Any) -> Any:
    state = ctx.get_input()
    if len(state["seen"]) >= 3:
        return state
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    changed = ctx.wait_for_external_event("policy_changed")
    winner = yield ctx.task_any([timer, changed])
    seen = "changed" if winner == changed else "tick"
    ctx.continue_as_new({"seen": [*state["seen"], seen]})
    return None


async def test_policy_loop_event_then_timers(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with running(registry({"policy": policy_loop}), tmp_path / "s.db", clock) as runtime:
        with clock.busy():  # the event must win the first race
            instance_id = await runtime.start_new("policy", "policy", json_input({"seen": []}))
            await runtime.wait_until_idle()
            await runtime.raise_event(instance_id, "policy_changed", json_input(1))
            await runtime.wait_until_idle()
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == {"seen": ["changed", "tick", "tick"]}
    # the event cut the first wait short; the two later generations each waited their hour
    assert clock.now() == START + timedelta(hours=2)
    assert history[1]["Generation"] == 3
    assert shape(history)[2] == ("ExecutionCompleted", 0, None, None)


def backup_one(ctx: Any) -> Any:
    value = yield ctx.call_activity("square", ctx.get_input())
    return value


def backup_all(ctx: Any) -> Any:
    run = ctx.get_input()
    results = yield ctx.task_all(
        [ctx.call_sub_orchestrator("backup_one", run * 10 + n, f"backup-{n}") for n in (1, 2)]
    )
    return results


async def test_completed_child_id_is_reused_by_the_next_run(tmp_path: Path) -> None:
    functions = registry(
        {"backup_all": backup_all, "backup_one": backup_one}, {"square": lambda x: x * x}
    )
    async with running(functions, tmp_path / "s.db") as runtime:
        first = await runtime.start_new("backup_all", "run-1", json_input(1))
        one = await runtime.wait_for_instance(first)
        second = await runtime.start_new("backup_all", "run-2", json_input(2))
        two = await runtime.wait_for_instance(second)
        child = await runtime.get_status("backup-1")
        child_history = runtime.get_history("backup-1")

    assert one["output"] == [121, 144]
    assert two["output"] == [441, 484]
    # a Python parent double-encodes the input, so the child reports it as JSON text
    assert child is not None and child["output"] == 441 and child["input"] == "21"
    parent_link = child_history[1]["ParentInstance"]["OrchestrationInstance"]
    assert parent_link["InstanceId"] == "run-2"  # a fresh history, not the first run's


def month_wait(ctx: Any) -> Any:
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(days=30))
    return "woke"


@pytest.mark.parametrize("how", ["terminate", "terminate and purge"])
async def test_dropped_timers_do_not_move_virtual_time(tmp_path: Path, how: str) -> None:
    clock = VirtualClock(START)
    async with running(registry({"wait": month_wait}), tmp_path / "s.db", clock) as runtime:
        with clock.busy():
            instance_id = await runtime.start_new("wait", None, None)
            await runtime.wait_until_idle()
            await runtime.terminate(instance_id, "stop")
            await runtime.wait_until_idle()
            if how == "terminate and purge":
                assert await runtime.purge(instance_id) == 1
        for _ in range(100):  # loop turns in which a virtual clock would jump
            await asyncio.sleep(0)
        status = await runtime.get_status(instance_id)

    assert clock.now() == START  # nothing is due: the month was never skipped
    assert status is None or status["runtimeStatus"] == "Terminated"


def bad_child_id(ctx: Any) -> Any:
    try:
        yield ctx.call_sub_orchestrator("backup_one", 2, "@backup@one")
    except Exception as exc:
        return str(exc)
    return "started"


async def test_invalid_child_id_fails_the_task_and_creates_nothing(tmp_path: Path) -> None:
    functions = registry({"parent": bad_child_id, "backup_one": backup_one})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("parent", None, None)
        status = await runtime.wait_for_instance(instance_id)
        child = await runtime.get_status("@backup@one")

    assert "must not start with @" in status["output"]
    assert child is None


def long_policy_loop(ctx: Any) -> Any:
    state = ctx.get_input()
    if state["round"] == 1:
        return state
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(days=10))
    changed = ctx.wait_for_external_event("policy_changed")
    winner = yield ctx.task_any([timer, changed])
    if winner is not timer:
        timer.cancel()
    ctx.continue_as_new({"round": state["round"] + 1})
    return None


async def test_policy_change_after_a_long_timer_hop_still_continues_as_new(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(START)
    functions = registry({"policy": long_policy_loop})
    async with running(functions, tmp_path / "s.db", clock) as runtime:
        with clock.busy():
            instance_id = await runtime.start_new("policy", None, json_input({"round": 0}))
            await runtime.wait_until_idle()
            clock.advance_to(START + timedelta(days=3))  # the first 3-day hop fires
            for _ in range(20):
                await asyncio.sleep(0)
            await runtime.wait_until_idle()
            await runtime.raise_event(instance_id, "policy_changed", json_input(1))
            await runtime.wait_until_idle()
            changed = await runtime.get_status(instance_id)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert changed is not None and changed["runtimeStatus"] == "Running"
    # never completed by the generation that saw the event: it continued as new
    assert status["output"] == {"round": 1}
    assert history[1]["Generation"] == 1
