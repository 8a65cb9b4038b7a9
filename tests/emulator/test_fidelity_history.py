"""A history recorded here reads like Azure's (issue 11, section 1.12).

durabletask `src/DurableTask.Core/`:
- `TaskOrchestrationContext.cs`, `CompleteOrchestration`: the ExecutionCompleted (or
  ContinueAsNew) event takes `idCounter++`, the next sequence id; a terminated instance's too
  (`HandleExecutionTerminatedEvent`).
- `TaskOrchestrationExecutor.cs`, `ExecuteCore`: `IsPlayed` is set on every event processed,
  OrchestratorStarted excepted; what the orchestrator scheduled, OrchestratorCompleted and
  ExecutionCompleted are created after and stored unplayed. The extension builds the context
  JSON from the stored flags (`azure-functions-durable-extension`
  `src/WebJobs.Extensions.DurableTask/Listener/TaskOrchestrationShim.cs`).
- `TaskOrchestrationDispatcher.cs`, `ProcessCreateTimerDecision`: the TimerFired event is made
  with the timer, so it carries the time the timer was created.
- Timestamps are .NET round-trip text: seven fractional digits.
azure-functions-durable-extension `HttpApiHandler.cs`, `HandleGetStatusRequestAsync`: a 202
status carries `Location` = the request URI and `Retry-After: 5`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from emulator.testing import RunningEmulator
from tests.emulator.conftest import WEBHOOKS
from tests.emulator.runtime_support import json_input, registry, running, shape

SEVEN_DIGITS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z\Z")


def timed_chain(ctx: Any) -> Any:
    yield ctx.call_activity("echo", 1)
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    value = yield ctx.wait_for_external_event("go")
    return value


async def test_flags_ids_and_timestamps_as_stored_by_dtfx(tmp_path: Path) -> None:
    functions = registry({"t": timed_chain}, {"echo": lambda v: v})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("t", None, None)
        await runtime.wait_until_idle()
        for _ in range(100):  # until the hour passed and the wait began
            if len(runtime.get_history(instance_id)) >= 11:
                break
            await runtime.wait_until_idle()
        await runtime.raise_event(instance_id, "go", json_input("done"))
        await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert [(name, event_id) for name, event_id, *_ in shape(history)] == [
        ("OrchestratorStarted", -1), ("ExecutionStarted", -1), ("TaskScheduled", 0),
        ("OrchestratorCompleted", -1),
        ("OrchestratorStarted", -1), ("TaskCompleted", -1), ("TimerCreated", 1),
        ("OrchestratorCompleted", -1),
        ("OrchestratorStarted", -1), ("TimerFired", -1), ("OrchestratorCompleted", -1),
        ("OrchestratorStarted", -1), ("EventRaised", -1), ("ExecutionCompleted", 2),
        ("OrchestratorCompleted", -1),
    ]  # fmt: skip
    played = {e["EventType"]: e["IsPlayed"] for e in history}
    assert played == {
        12: False, 0: True, 4: False, 13: False, 5: True, 10: False, 11: True, 15: True, 1: False,
    }  # fmt: skip
    assert history[9]["Timestamp"] == history[6]["Timestamp"]  # fired carries its creation
    assert history[9]["Timestamp"] != history[8]["Timestamp"]
    assert all(SEVEN_DIGITS.match(e["Timestamp"]) for e in history)
    assert SEVEN_DIGITS.match(history[6]["FireAt"])


def waits(ctx: Any) -> Any:
    yield ctx.call_activity("echo", 1)
    yield ctx.call_activity("echo", 2)
    yield ctx.wait_for_external_event("never")


async def test_a_terminated_instance_completes_with_the_next_id(tmp_path: Path) -> None:
    functions = registry({"w": waits}, {"echo": lambda v: v})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("w", None, None)
        await runtime.wait_until_idle()
        await runtime.terminate(instance_id, "enough")
        await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert shape(history)[-3:] == [
        ("ExecutionTerminated", -1, None, None),
        ("ExecutionCompleted", 2, None, None),
        ("OrchestratorCompleted", -1, None, None),
    ]
    assert history[-3]["IsPlayed"] is True and history[-2]["IsPlayed"] is False


async def test_a_running_status_points_at_itself(emulator: RunningEmulator) -> None:
    started = await emulator.request(
        "POST", f"{WEBHOOKS}/orchestrators/wait_for_approval/loc-1", key=emulator.system_key
    )
    assert started.headers["Retry-After"] == "10"  # a check-status response asks for 10 s
    await emulator.wait_until_idle()
    path = f"{WEBHOOKS}/instances/loc-1?showInput=false&code={emulator.system_key}"
    running_status = await emulator.request(
        "GET", path, headers={"Host": "elsewhere.example"}, key=False
    )
    assert running_status.status == 202
    assert running_status.headers["Retry-After"] == "5"
    assert running_status.headers["Location"] == f"{emulator.base_url}{path}"
