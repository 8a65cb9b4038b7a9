"""Golden histories of retries: the RetryInterceptor's timers, the extra final timer, and the
ids that interleave in history order when several retrying tasks fan out."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from emulator.history import parse_time
from tests.emulator.runtime_support import START, json_input, registry, running, shape

OS, OC = ("OrchestratorStarted", -1, None, None), ("OrchestratorCompleted", -1, None, None)
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=2)


def flaky_factory(failures: dict[str, int]) -> Any:
    """An activity failing `failures[name]` times for each input name, then succeeding."""
    calls: Counter[str] = Counter()

    def flaky(name: str) -> str:
        calls[name] += 1
        if calls[name] <= failures.get(name, 0):
            raise ConnectionError(f"{name} attempt {calls[name]} failed")
        return f"{name} ok"

    return flaky


def single(ctx: Any) -> Any:
    try:
        result = yield ctx.call_activity_with_retry("flaky", RETRY, "a")
    except Exception as exc:
        return f"gave up: {exc}"
    return result


async def test_retry_succeeds_on_second_attempt(tmp_path: Path) -> None:
    functions = registry({"single": single}, {"flaky": flaky_factory({"a": 1})})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("single", None, None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == "a ok"
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "single"), ("TaskScheduled", 0, None, "flaky"), OC,
        OS, ("TaskFailed", -1, 0, None), ("TimerCreated", 1, None, None), OC,
        OS, ("TimerFired", -1, 1, None), ("TaskScheduled", 2, None, "flaky"), OC,
        OS, ("TaskCompleted", -1, 2, None), ("ExecutionCompleted", 3, None, None), OC,
    ]  # fmt: skip
    assert parse_time(history[6]["FireAt"]) == START + timedelta(seconds=5)


async def test_exhausted_retry_adds_a_final_timer_then_fails(tmp_path: Path) -> None:
    functions = registry({"single": single}, {"flaky": flaky_factory({"a": 5})})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("single", None, None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"].startswith("gave up: Activity function 'flaky' failed: a attempt 2")
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "single"), ("TaskScheduled", 0, None, "flaky"), OC,
        OS, ("TaskFailed", -1, 0, None), ("TimerCreated", 1, None, None), OC,
        OS, ("TimerFired", -1, 1, None), ("TaskScheduled", 2, None, "flaky"), OC,
        OS, ("TaskFailed", -1, 2, None), ("TimerCreated", 3, None, None), OC,
        OS, ("TimerFired", -1, 3, None), ("ExecutionCompleted", 4, None, None), OC,
    ]  # fmt: skip
    # the extra timer after the last attempt fires at once (current DTFx)
    assert history[14]["FireAt"] == history[12]["Timestamp"]


def fan_of_retries(ctx: Any) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3)
    names = ctx.get_input()
    results = yield ctx.task_all([ctx.call_activity_with_retry("flaky", options, n) for n in names])
    return results


async def test_retrying_tasks_in_a_fan_out_interleave_ids(tmp_path: Path) -> None:
    # a fails twice, b once, c never: ids are allocated as failures and timers are processed
    flaky = flaky_factory({"a": 2, "b": 1})
    functions = registry({"fan": fan_of_retries}, {"flaky": flaky})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("fan", None, json_input(["a", "b", "c"]))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == ["a ok", "b ok", "c ok"]
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "fan"),
        ("TaskScheduled", 0, None, "flaky"), ("TaskScheduled", 1, None, "flaky"),
        ("TaskScheduled", 2, None, "flaky"), OC,
        OS, ("TaskFailed", -1, 0, None), ("TaskFailed", -1, 1, None),
        ("TaskCompleted", -1, 2, None),
        ("TimerCreated", 3, None, None), ("TimerCreated", 4, None, None), OC,
        OS, ("TimerFired", -1, 3, None), ("TimerFired", -1, 4, None),
        ("TaskScheduled", 5, None, "flaky"), ("TaskScheduled", 6, None, "flaky"), OC,
        OS, ("TaskFailed", -1, 5, None), ("TaskCompleted", -1, 6, None),
        ("TimerCreated", 7, None, None), OC,
        OS, ("TimerFired", -1, 7, None), ("TaskScheduled", 8, None, "flaky"), OC,
        OS, ("TaskCompleted", -1, 8, None), ("ExecutionCompleted", 9, None, None), OC,
    ]  # fmt: skip
    inputs = [e["Input"] for e in history if e["EventType"] == 4]
    assert inputs == ['["\\"a\\""]', '["\\"b\\""]', '["\\"c\\""]', '["\\"a\\""]', '["\\"b\\""]',
                      '["\\"a\\""]']  # fmt: skip


def child_with_retry(ctx: Any) -> Any:
    result = yield ctx.call_activity("flaky", ctx.get_input())
    return result


def parent_with_retry(ctx: Any) -> Any:
    result = yield ctx.call_sub_orchestrator_with_retry("child", RETRY, "s")
    return result


async def test_sub_orchestration_with_retry_gets_fresh_default_ids(tmp_path: Path) -> None:
    functions = registry(
        {"parent": parent_with_retry, "child": child_with_retry},
        {"flaky": flaky_factory({"s": 1})},
    )
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("parent", "p-1", None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)
        execution = history[1]["OrchestrationInstance"]["ExecutionId"]
        first_child = await runtime.get_status(f"{execution}:0")
        second_child = await runtime.get_status(f"{execution}:2")

    assert status["output"] == "s ok"
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "parent"),
        ("SubOrchestrationInstanceCreated", 0, None, "child"), OC,
        OS, ("SubOrchestrationInstanceFailed", -1, 0, None), ("TimerCreated", 1, None, None), OC,
        OS, ("TimerFired", -1, 1, None), ("SubOrchestrationInstanceCreated", 2, None, "child"), OC,
        OS, ("SubOrchestrationInstanceCompleted", -1, 2, None),
        ("ExecutionCompleted", 3, None, None), OC,
    ]  # fmt: skip
    assert first_child is not None and first_child["runtimeStatus"] == "Failed"
    assert second_child is not None and second_child["runtimeStatus"] == "Completed"
