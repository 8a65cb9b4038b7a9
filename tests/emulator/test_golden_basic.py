"""Golden histories: chain, fan-out/fan-in, orchestrator failure, non-determinism, context JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.contracts import OrchestratorInvoker
from tests.emulator.runtime_support import json_input, orchestrator, registry, running, shape

OS, OC = ("OrchestratorStarted", -1, None, None), ("OrchestratorCompleted", -1, None, None)


def chain(ctx: Any) -> Any:
    first = yield ctx.call_activity("greet", "Tokyo")
    second = yield ctx.call_activity("greet", "Seattle")
    return [first, second, ctx.get_input()]


def fan_out(ctx: Any) -> Any:
    count = ctx.get_input()["count"]
    parts = yield ctx.task_all([ctx.call_activity("double", i) for i in range(count)])
    total = yield ctx.call_activity("sum", parts)
    return total


def greet(name: str) -> str:
    return f"Hello {name}!"


async def test_chain_history_and_output(tmp_path: Path) -> None:
    functions = registry({"chain": chain}, {"greet": greet})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("chain", "chain-1", json_input({"k": 1}))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", {"k": 1}]
    # the Python client's double encoding shows as a string input, as on Azure
    assert status["input"] == json.dumps({"k": 1})
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "chain"), ("TaskScheduled", 0, None, "greet"), OC,
        OS, ("TaskCompleted", -1, 0, None), ("TaskScheduled", 1, None, "greet"), OC,
        OS, ("TaskCompleted", -1, 1, None), ("ExecutionCompleted", 2, None, None), OC,
    ]  # fmt: skip
    assert history[2]["Input"] == json.dumps(['"Tokyo"'])  # DTFx wraps activity input in an array
    assert history[5]["Result"] == '"Hello Tokyo!"'
    assert history[1]["Version"] == ""
    assert history[1]["OrchestrationInstance"]["InstanceId"] == "chain-1"
    assert history[-2]["OrchestrationStatus"] == 1
    assert history[-2]["Result"] == json.dumps(status["output"])


async def test_fan_out_fan_in_history(tmp_path: Path) -> None:
    functions = registry({"fan": fan_out}, {"double": lambda x: 2 * x, "sum": lambda xs: sum(xs)})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("fan", None, json_input({"count": 4}))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == 12
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "fan"),
        *[("TaskScheduled", i, None, "double") for i in range(4)], OC,
        OS, *[("TaskCompleted", -1, i, None) for i in range(4)],
        ("TaskScheduled", 4, None, "sum"), OC,
        OS, ("TaskCompleted", -1, 4, None), ("ExecutionCompleted", 5, None, None), OC,
    ]  # fmt: skip


def failing(ctx: Any) -> Any:
    yield ctx.call_activity("explode", None)
    return "unreachable"


def explode(_: Any) -> None:
    raise ValueError("disk on fire")


async def test_unhandled_activity_failure_fails_the_orchestration(tmp_path: Path) -> None:
    functions = registry({"failing": failing}, {"explode": explode})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("failing", None, None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Orchestrator function 'failing' failed: ")
    assert "Activity function 'explode' failed: disk on fire" in status["output"]
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "failing"), ("TaskScheduled", 0, None, "explode"), OC,
        OS, ("TaskFailed", -1, 0, None), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip
    assert history[5]["Reason"] == "Activity function 'explode' failed: disk on fire"
    assert history[6]["OrchestrationStatus"] == 3
    assert history[6]["FailureDetails"]["ErrorMessage"] == status["output"]


def raises_directly(ctx: Any) -> Any:
    ctx.set_custom_status({"stage": "before"})
    yield ctx.call_activity("greet", "x")
    raise RuntimeError("orchestrator bug")


async def test_orchestrator_exception_keeps_custom_status(tmp_path: Path) -> None:
    functions = registry({"raises": raises_directly}, {"greet": greet})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("raises", None, None)
        status = await runtime.wait_for_instance(instance_id)

    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "Orchestrator function 'raises' failed: orchestrator bug"
    assert status["customStatus"] == {"stage": "before"}


def version_one(ctx: Any) -> Any:
    yield ctx.call_activity("greet", "a")
    yield ctx.wait_for_external_event("go")
    return "done"


def version_two(ctx: Any) -> Any:
    yield ctx.call_activity("renamed", "a")
    yield ctx.wait_for_external_event("go")
    return "done"


async def test_changed_code_fails_as_non_deterministic(tmp_path: Path) -> None:
    functions = registry({"flow": version_one}, {"greet": greet, "renamed": greet})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("flow", None, None)
        await runtime.wait_until_idle()
        functions.orchestrators["flow"] = orchestrator(version_two)  # a deployment mid-flight
        await runtime.raise_event(instance_id, "go", json_input(1))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Non-Deterministic workflow detected: ")
    assert "'greet'" in status["output"] and "'renamed'" in status["output"]
    assert shape(history)[-4:] == [
        OS, ("EventRaised", -1, None, "go"), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip


def recording(invoker: OrchestratorInvoker, seen: list[dict[str, Any]]) -> OrchestratorInvoker:
    async def invoke(context: str) -> str:
        seen.append(json.loads(context))
        return await invoker(context)

    return invoke


async def test_context_json_marks_played_events(tmp_path: Path) -> None:
    functions = registry({"chain": chain}, {"greet": greet})
    seen: list[dict[str, Any]] = []
    functions.orchestrators["chain"] = recording(functions.orchestrators["chain"], seen)
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("chain", "ctx-1", json_input([1, 2]))
        await runtime.wait_for_instance(instance_id)

    assert len(seen) == 3
    first, second = seen[0], seen[1]
    assert first["upperSchemaVersion"] == 1 and first["upperSchemaVersionNew"] == 2
    assert first["maximumShortTimerDuration"] == "6.00:00:00"
    assert first["longRunningTimerIntervalDuration"] == "3.00:00:00"
    assert first["input"] == json.dumps([1, 2]) and first["instanceId"] == "ctx-1"
    assert first["isReplaying"] is False and second["isReplaying"] is True
    # the stored flags (DTFx marks only the events it processed: not OrchestratorStarted, not
    # what it scheduled, not OrchestratorCompleted); new events are not played yet
    assert [e["IsPlayed"] for e in second["history"]] == [False, True, False, False, False, False]
    assert [e["IsPlayed"] for e in seen[2]["history"][4:6]] == [False, True]


def timer_instead(ctx: Any) -> Any:
    yield ctx.create_timer(ctx.current_utc_datetime)
    yield ctx.wait_for_external_event("go")
    return "done"


def skips_the_call(ctx: Any) -> Any:
    yield ctx.wait_for_external_event("go")
    return "done"


@pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")
@pytest.mark.parametrize(
    ("changed", "expected"),
    [(timer_instead, "a durable timer"), (skips_the_call, "hasn't (yet?) scheduled it")],
)
async def test_other_kinds_of_changed_code(tmp_path: Path, changed: Any, expected: str) -> None:
    functions = registry({"flow": version_one}, {"greet": greet})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("flow", None, None)
        await runtime.wait_until_idle()
        functions.orchestrators["flow"] = orchestrator(changed)
        await runtime.raise_event(instance_id, "go", "null")
        status = await runtime.wait_for_instance(instance_id)

    assert status["runtimeStatus"] == "Failed"
    assert "scheduled an activity task with sequence ID 0 named 'greet'" in status["output"]
    assert expected in status["output"]
