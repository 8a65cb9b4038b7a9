"""The management side of RuntimeApi: validation, status payloads, query, terminate, suspend,
resume, restart, rewind, purge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.clock import VirtualClock
from emulator.contracts import (
    InstanceAlreadyExists,
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
    InvalidRequest,
    NotSupported,
    Refused,
)
from tests.emulator.runtime_support import START, json_input, registry, running


def waiter(ctx: Any) -> Any:
    ctx.set_custom_status("waiting")
    value = yield ctx.wait_for_external_event("go")
    done = yield ctx.call_activity("echo", value)
    return done


def functions() -> Any:
    return registry({"waiter": waiter}, {"echo": lambda v: v})


async def test_start_rules(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        with pytest.raises(InvalidRequest, match="doesn't exist"):
            await runtime.start_new("nope", None, None)
        for bad in ("@entity", "a/b", "a#b", "a?b", "a\\b", "a\nb", "x" * 257):
            with pytest.raises(InvalidRequest):
                await runtime.start_new("waiter", bad, None)
        generated = await runtime.start_new("waiter", None, None)
        await runtime.start_new("waiter", "same", None)
        with pytest.raises(InstanceAlreadyExists, match="already exists"):
            await runtime.start_new("waiter", "same", None)
        await runtime.terminate("same", "stop")
        await runtime.wait_for_instance("same")
        assert await runtime.start_new("waiter", "same", json_input(1)) == "same"

    assert len(generated) == 32 and int(generated, 16) >= 0


async def test_status_payload_and_reshaped_history(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("waiter", "w-1", json_input({"a": 1}))
        await runtime.wait_until_idle()
        running_status = await runtime.get_status(instance_id, show_input=False)
        await runtime.raise_event(instance_id, "go", '"hello"')
        await runtime.wait_for_instance(instance_id)
        with_output = await runtime.get_status(instance_id, True, True)
        without_output = await runtime.get_status(instance_id, show_history=True)
        missing = await runtime.get_status("nobody")

    assert missing is None
    assert running_status == {
        "name": "waiter",
        "instanceId": "w-1",
        "runtimeStatus": "Running",
        "input": None,
        "customStatus": "waiting",
        "output": None,
        "createdTime": "2024-05-01T10:00:00Z",
        "lastUpdatedTime": "2024-05-01T10:00:00Z",
    }
    assert with_output is not None and without_output is not None
    events = with_output["historyEvents"]
    assert [e["EventType"] for e in events] == [
        "ExecutionStarted", "EventRaised", "TaskCompleted", "ExecutionCompleted",
    ]  # fmt: skip
    completed = events[2]
    assert completed["FunctionName"] == "echo" and completed["Result"] == "hello"
    assert "ScheduledTime" in completed
    assert all("EventId" not in e and "IsPlayed" not in e for e in events)
    assert events[3]["OrchestrationStatus"] == "Completed"
    assert all("Result" not in e for e in without_output["historyEvents"])


async def test_query_filters(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with running(functions(), tmp_path / "s.db", clock) as runtime:
        await runtime.start_new("waiter", "alpha-1", None)
        clock.advance_to(START + timedelta(hours=1))
        await runtime.start_new("waiter", "alpha-2", None)
        await runtime.start_new("waiter", "beta-1", None)
        await runtime.wait_until_idle()
        await runtime.terminate("beta-1", "no")
        await runtime.wait_for_instance("beta-1")
        everything = await runtime.query()
        by_prefix = await runtime.query(prefix="alpha")
        later = await runtime.query(created_from=START + timedelta(minutes=30))
        earlier = await runtime.query(created_to=START + timedelta(minutes=30))
        terminated = await runtime.query(statuses=["Terminated"])
        several = await runtime.query(statuses=["running", "Terminated"], show_input=False)

    def ids(found: list[dict[str, Any]]) -> list[str]:
        return sorted(s["instanceId"] for s in found)

    assert ids(everything) == ["alpha-1", "alpha-2", "beta-1"]
    assert ids(by_prefix) == ["alpha-1", "alpha-2"]
    assert ids(later) == ["alpha-2", "beta-1"]
    assert ids(earlier) == ["alpha-1"]
    assert ids(terminated) == ["beta-1"]
    assert ids(several) == ["alpha-1", "alpha-2", "beta-1"]


async def test_terminate_suspend_resume(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        with pytest.raises(InstanceNotFound):
            await runtime.terminate("nobody", None)
        instance_id = await runtime.start_new("waiter", None, None)
        await runtime.wait_until_idle()
        await runtime.suspend(instance_id, "pause")
        await runtime.wait_until_idle()
        suspended = await runtime.get_status(instance_id)
        await runtime.raise_event(instance_id, "go", '"held"')  # held while suspended
        await runtime.wait_until_idle()
        still = await runtime.get_status(instance_id)
        await runtime.resume(instance_id, "go on")
        done = await runtime.wait_for_instance(instance_id)
        with pytest.raises(InstanceGone):
            await runtime.raise_event(instance_id, "go", None)
        with pytest.raises(InstanceGone):
            await runtime.terminate(instance_id, None)

        other = await runtime.start_new("waiter", None, None)
        await runtime.wait_until_idle()
        await runtime.terminate(other, "enough")
        terminated = await runtime.wait_for_instance(other)
        history = runtime.get_history(other)

    assert suspended is not None and suspended["runtimeStatus"] == "Suspended"
    assert still is not None and still["runtimeStatus"] == "Suspended"
    assert done["output"] == "held"
    assert terminated["runtimeStatus"] == "Terminated"
    assert terminated["output"] == "enough"
    assert [e["EventType"] for e in history[-4:]] == [12, 3, 1, 13]


async def test_restart_rewind_purge(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("waiter", "r-1", json_input(7))
        await runtime.wait_until_idle()
        with pytest.raises(InvalidOperation):
            await runtime.rewind(instance_id, "why")
        with pytest.raises(InstanceAlreadyExists):
            await runtime.restart(instance_id, new_instance_id=False)
        copy_id = await runtime.restart(instance_id, new_instance_id=True)
        await runtime.wait_until_idle()
        copy = await runtime.get_status(copy_id)
        await runtime.raise_event(instance_id, "go", "1")
        await runtime.wait_for_instance(instance_id)
        same = await runtime.restart(instance_id, new_instance_id=False)
        await runtime.wait_until_idle()
        restarted = await runtime.get_status(same)
        with pytest.raises(InstanceNotFound):
            await runtime.rewind("nobody", None)
        with pytest.raises(InvalidRequest, match="was not found"):
            await runtime.restart("nobody", new_instance_id=True)

        failing = registry({"bad": lambda ctx: (_ for _ in ()).throw(ValueError("x"))})
        runtime.registry.orchestrators.update(failing.orchestrators)
        failed_id = await runtime.start_new("bad", None, None)
        await runtime.wait_for_instance(failed_id)
        with pytest.raises(NotSupported):
            await runtime.rewind(failed_id, "retry")

        assert await runtime.purge("nobody") == 0
        with pytest.raises(Refused, match="it is Running"):  # it still waits for "go"
            await runtime.purge(copy_id)
        await runtime.terminate(copy_id, "done")
        await runtime.wait_for_instance(copy_id)
        assert await runtime.purge(copy_id) == 1
        assert await runtime.get_status(copy_id) is None
        purged = await runtime.purge_by(START - timedelta(days=1), None, ["Failed"])
        left = await runtime.query()

    assert copy is not None and copy["input"] == "7" and copy["runtimeStatus"] == "Running"
    assert same == "r-1" and restarted is not None and restarted["runtimeStatus"] == "Running"
    assert purged == 1
    assert [s["instanceId"] for s in left] == ["r-1"]
