"""Golden histories: external events, sub-orchestrations, continue_as_new, entity call/signal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from tests.emulator.runtime_support import json_input, registry, running, shape

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")

OS, OC = ("OrchestratorStarted", -1, None, None), ("OrchestratorCompleted", -1, None, None)


def two_events(ctx: Any) -> Any:
    first = yield ctx.wait_for_external_event("first")
    second = yield ctx.wait_for_external_event("second")
    return [first, second]


async def test_events_raised_before_they_are_awaited_are_buffered(tmp_path: Path) -> None:
    async with running(registry({"events": two_events}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("events", None, None)
        await runtime.wait_until_idle()
        await runtime.raise_event(instance_id, "second", json_input({"n": 2}))
        await runtime.wait_until_idle()
        await runtime.raise_event(instance_id, "first", '{"raw": 1}')  # raw JSON (curl)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    # the SDK client's double encoding arrives as a str; a raw JSON body as an object
    assert status["output"] == [{"raw": 1}, json.dumps({"n": 2})]
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "events"), OC,
        OS, ("EventRaised", -1, None, "second"), OC,
        OS, ("EventRaised", -1, None, "first"), ("ExecutionCompleted", 0, None, None), OC,
    ]  # fmt: skip


def child(ctx: Any) -> Any:
    value = yield ctx.call_activity("square", ctx.get_input())
    return {"square": value}


def parent(ctx: Any) -> Any:
    implicit = yield ctx.call_sub_orchestrator("child", 3)
    explicit = yield ctx.call_sub_orchestrator("child", 4, "child-fixed")
    return [implicit, explicit]


async def test_sub_orchestrations(tmp_path: Path) -> None:
    functions = registry({"parent": parent, "child": child}, {"square": lambda x: x * x})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("parent", "parent-1", None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)
        execution = history[1]["OrchestrationInstance"]["ExecutionId"]
        implicit = await runtime.get_status(f"{execution}:0", show_history=True)
        explicit = await runtime.get_status("child-fixed")
        child_history = runtime.get_history("child-fixed")

    assert status["output"] == [{"square": 9}, {"square": 16}]
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "parent"),
        ("SubOrchestrationInstanceCreated", 0, None, "child"), OC,
        OS, ("SubOrchestrationInstanceCompleted", -1, 0, None),
        ("SubOrchestrationInstanceCreated", 1, None, "child"), OC,
        OS, ("SubOrchestrationInstanceCompleted", -1, 1, None),
        ("ExecutionCompleted", 2, None, None), OC,
    ]  # fmt: skip
    assert history[2]["InstanceId"] == f"{execution}:0"
    assert history[6]["InstanceId"] == "child-fixed"
    assert history[5]["Result"] == json.dumps({"square": 9})
    assert implicit is not None and implicit["input"] == "3"
    assert explicit is not None and explicit["output"] == {"square": 16}
    parent_link = child_history[1]["ParentInstance"]
    assert parent_link["OrchestrationInstance"]["InstanceId"] == "parent-1"
    assert parent_link["TaskScheduleId"] == 1


def counter_loop(ctx: Any) -> Any:
    count = ctx.get_input()
    yield ctx.call_activity("square", count)
    if count < 3:
        ctx.continue_as_new(count + 1)
        return None
    return count


async def test_continue_as_new_starts_a_fresh_execution(tmp_path: Path) -> None:
    functions = registry({"loop": counter_loop}, {"square": lambda x: x * x})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("loop", "looping", json_input(0))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == 3
    assert status["input"] == "3"
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "loop"), ("TaskScheduled", 0, None, "square"), OC,
        OS, ("TaskCompleted", -1, 0, None), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip
    assert history[1]["Generation"] == 3
    assert history[1]["Input"] == json.dumps("3")


def waits_then_continues(ctx: Any) -> Any:
    seen = ctx.get_input()
    if seen:
        return seen
    yield ctx.wait_for_external_event("go")
    ctx.continue_as_new(["went"])
    return None


async def test_continue_as_new_drops_buffered_events(tmp_path: Path) -> None:
    async with running(registry({"w": waits_then_continues}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("w", None, None)
        await runtime.wait_until_idle()
        # both arrive in one episode: "extra" is buffered, never awaited, and not carried over
        await runtime.raise_event(instance_id, "extra", json_input(1))
        await runtime.raise_event(instance_id, "go", json_input(2))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["output"] == ["went"]
    assert [e["EventType"] for e in history].count(15) == 0


def counter_entity(ctx: Any) -> None:
    value = ctx.get_state(lambda: 0)
    operation = ctx.operation_name
    if operation == "add":
        ctx.set_state(value + ctx.get_input())
    elif operation == "get":
        ctx.set_result(value)
    elif operation == "fail":
        ctx.set_state(value + 100)  # kept: entity state is not rolled back on error
        raise ValueError("counter refused")


def uses_entity(ctx: Any) -> Any:
    counter = df.EntityId("Counter", "k1")
    ctx.signal_entity(counter, "add", 5)
    before = yield ctx.call_entity(counter, "get")
    try:
        yield ctx.call_entity(counter, "fail")
        error = None
    except Exception as exc:
        error = str(exc)
    after = yield ctx.call_entity(counter, "get")
    return [before, error, after]


async def test_entity_call_and_signal_from_an_orchestrator(tmp_path: Path) -> None:
    functions = registry({"uses": uses_entity}, entities={"Counter": counter_entity})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("uses", None, None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)
        state = await runtime.read_entity("Counter", "k1")

    assert status["output"] == [5, "counter refused", 105]
    assert state == (True, "105")
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "uses"),
        ("EventSent", 0, None, "op"), ("EventSent", 1, None, "op"), OC,
        OS, ("EventRaised", -1, None, json.loads(history[3]["Input"])["id"]),
        ("EventSent", 2, None, "op"), OC,
        OS, ("EventRaised", -1, None, json.loads(history[7]["Input"])["id"]),
        ("EventSent", 3, None, "op"), OC,
        OS, ("EventRaised", -1, None, json.loads(history[11]["Input"])["id"]),
        ("ExecutionCompleted", 4, None, None), OC,
    ]  # fmt: skip
    signal = json.loads(history[2]["Input"])
    assert history[2]["InstanceId"] == "@counter@k1"
    assert (signal["op"], signal["signal"], signal["input"]) == ("add", True, json.dumps("5"))
    assert json.loads(history[6]["Input"]) == {"result": json.dumps(5)}
    assert "exceptionType" in json.loads(history[10]["Input"])


async def test_client_signal_read_list_and_delete(tmp_path: Path) -> None:
    def deletable(ctx: Any) -> None:
        if ctx.operation_name == "delete":
            ctx.destruct_on_exit()
        else:
            counter_entity(ctx)

    functions = registry(entities={"Counter": deletable})
    async with running(functions, tmp_path / "s.db") as runtime:
        # the Python client's signal body is the input JSON-encoded twice
        await runtime.signal_entity("Counter", "k2", "add", json.dumps(json.dumps(3)))
        await runtime.signal_entity("Counter", "k2", "add", json.dumps(json.dumps(4)))
        await runtime.wait_until_idle()
        state = await runtime.read_entity("counter", "k2")
        listed = await runtime.list_entities("Counter", fetch_state=True)
        await runtime.signal_entity("Counter", "k2", "delete", None)
        await runtime.wait_until_idle()
        deleted = await runtime.read_entity("Counter", "k2")
        missing = await runtime.read_entity("Counter", "nobody")

    assert state == (True, "7")
    assert [(e["entityId"], e["state"]) for e in listed] == [({"name": "counter", "key": "k2"}, 7)]
    assert deleted == (False, None)
    assert missing == (False, None)
