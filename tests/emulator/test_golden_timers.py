"""Golden histories of durable timers on the virtual clock: short timers, long-timer hops
(schema V3), task_any with a cancelled timer, and a 400-day schedule in seconds."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.clock import VirtualClock
from emulator.history import parse_time
from tests.emulator.runtime_support import START, json_input, registry, running, shape

OS, OC = ("OrchestratorStarted", -1, None, None), ("OrchestratorCompleted", -1, None, None)


def sleeper(ctx: Any) -> Any:
    hours = ctx.get_input()
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=hours))
    return ctx.current_utc_datetime.isoformat()


async def test_short_timer(tmp_path: Path) -> None:
    async with running(registry({"sleeper": sleeper}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("sleeper", None, json_input(1))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "sleeper"), ("TimerCreated", 0, None, None), OC,
        OS, ("TimerFired", -1, 0, None), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip
    fire_at = START + timedelta(hours=1)
    assert parse_time(history[2]["FireAt"]) == fire_at
    assert parse_time(history[5]["FireAt"]) == fire_at
    assert parse_time(status["output"]) == fire_at


async def test_ten_day_timer_hops_every_three_days(tmp_path: Path) -> None:
    async with running(registry({"sleeper": sleeper}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("sleeper", None, json_input(240))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "sleeper"), ("TimerCreated", 0, None, None), OC,
        OS, ("TimerFired", -1, 0, None), ("TimerCreated", 1, None, None), OC,
        OS, ("TimerFired", -1, 1, None), ("TimerCreated", 2, None, None), OC,
        OS, ("TimerFired", -1, 2, None), ("ExecutionCompleted", 3, None, None), OC,
    ]  # fmt: skip
    fires = [parse_time(e["FireAt"]) for e in history if e["EventType"] == 10]
    assert fires == [START + timedelta(days=d) for d in (3, 6, 10)]
    assert parse_time(status["output"]) == START + timedelta(days=10)


def approval(ctx: Any) -> Any:
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=24))
    answer = ctx.wait_for_external_event("Approval")
    winner = yield ctx.task_any([answer, timer])
    if winner == answer:
        timer.cancel()
        return {"approved": answer.result}
    return "timed out"


async def test_task_any_event_wins_and_cancels_the_timer(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with running(registry({"approval": approval}), tmp_path / "s.db", clock) as runtime:
        with clock.busy():  # hold time still while the "user" answers
            instance_id = await runtime.start_new("approval", None, None)
            await runtime.wait_until_idle()
            # the Python client's raise_event body: JSON text inside a JSON string
            await runtime.raise_event(instance_id, "Approval", json_input({"by": "ana"}))
            status = await runtime.wait_for_instance(instance_id)
        for _ in range(100):  # loop turns in which a virtual clock would jump
            await asyncio.sleep(0)
        history = runtime.get_history(instance_id)

    # the orchestrator receives the JSON text as a str, exactly like on Azure (issue #295)
    assert status["output"] == {"approved": json.dumps({"by": "ana"})}
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "approval"), ("TimerCreated", 0, None, None), OC,
        OS, ("EventRaised", -1, None, "Approval"), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip
    assert clock.now() == START


async def test_task_any_timer_wins(tmp_path: Path) -> None:
    async with running(registry({"approval": approval}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("approval", None, None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == "timed out"
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "approval"), ("TimerCreated", 0, None, None), OC,
        OS, ("TimerFired", -1, 0, None), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip


def daily(ctx: Any) -> Any:
    state = ctx.get_input()
    if state["day"] >= state["days"]:
        return state
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(days=1))
    result = yield ctx.call_activity("work", state["day"])
    state = {**state, "day": state["day"] + 1, "last": result}
    ctx.continue_as_new(state)
    return None


@pytest.mark.simulated_year
async def test_four_hundred_daily_timers_in_virtual_time(tmp_path: Path) -> None:
    functions = registry({"daily": daily}, {"work": lambda day: day * 2})
    clock = VirtualClock(START)
    async with running(functions, tmp_path / "s.db", clock) as runtime:
        instance_id = await runtime.start_new(
            "daily", "eternal", json_input({"day": 0, "days": 400})
        )
        status = await runtime.wait_for_instance(instance_id, timeout=120)
        history = runtime.get_history(instance_id)

    assert status["output"] == {"day": 400, "days": 400, "last": 798}
    assert clock.now() == START + timedelta(days=400)
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "daily"), ("ExecutionCompleted", 0, None, None), OC,
    ]  # fmt: skip
    assert history[1]["Generation"] == 400
