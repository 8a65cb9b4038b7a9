"""Names as the extension compares them (issue 11, section 1.11).

- Function names are `FunctionName`s, equal ignoring case
  (azure-functions-durable-extension `src/WebJobs.Extensions.DurableTask/FunctionName.cs`,
  `Equals` with `StringComparison.OrdinalIgnoreCase`; the known-function tables in
  `DurableTaskExtension.cs` are keyed by them).
- Replay compares activity and sub-orchestration names ignoring case, and an entity message
  (`EventSent`) only by its `Name`, which is always "op"
  (durabletask `src/DurableTask.Core/TaskOrchestrationContext.cs`, `HandleTaskScheduledEvent`,
  `HandleSubOrchestrationCreatedEvent`, `HandleEventSentEvent`).
- An instance list shows inputs unless asked not to
  (`src/WebJobs.Extensions.DurableTask/OrchestrationStatusQueryCondition.cs`: `ShowInput = true`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from emulator.contracts import InvalidRequest
from emulator.testing import RunningEmulator
from tests.emulator.conftest import WEBHOOKS
from tests.emulator.runtime_support import json_input, orchestrator, registry, running, shape

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")


def shouting(ctx: Any) -> Any:
    greeting = yield ctx.call_activity("GREET", "Tokyo")
    child = yield ctx.call_sub_orchestrator("Child", "x")
    return [greeting, child]


def child(ctx: Any) -> Any:
    return f"child got {ctx.get_input()}"
    yield  # a generator


async def test_functions_are_found_whatever_the_case(tmp_path: Path) -> None:
    functions = registry({"parent": shouting, "child": child}, {"greet": lambda n: f"Hi {n}"})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("PARENT", "p-1", None)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)
        with pytest.raises(InvalidRequest, match="known orchestrator functions: 'parent', 'child'"):
            await runtime.start_new("nobody", None, None)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hi Tokyo", "child got x"]
    assert status["name"] == "PARENT"  # the name as the caller gave it, as in DTFx
    assert shape(history)[2] == ("TaskScheduled", 0, None, "GREET")


def lower_case(ctx: Any) -> Any:
    yield ctx.call_activity("greet", "a")
    yield ctx.wait_for_external_event("go")
    return "done"


def upper_case(ctx: Any) -> Any:
    yield ctx.call_activity("Greet", "a")
    yield ctx.wait_for_external_event("go")
    return "done"


def calls_get(ctx: Any) -> Any:
    value = yield ctx.call_entity(df.EntityId("Counter", "k"), "get")
    yield ctx.wait_for_external_event("go")
    return value


def calls_read(ctx: Any) -> Any:
    value = yield ctx.call_entity(df.EntityId("Counter", "k"), "read")
    yield ctx.wait_for_external_event("go")
    return value


def counter(ctx: Any) -> None:
    ctx.set_result(ctx.operation_name)


@pytest.mark.parametrize(
    ("before", "after", "output"),
    [(lower_case, upper_case, "done"), (calls_get, calls_read, "get")],
    ids=["activity-name-case", "entity-operation"],
)
async def test_what_replay_does_not_compare(
    tmp_path: Path, before: Any, after: Any, output: str
) -> None:
    """A deployment that only changes an activity name's case, or an entity operation, is not
    a non-deterministic change on Azure: the instance carries on."""
    functions = registry({"flow": before}, {"greet": str}, {"Counter": counter})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("flow", None, None)
        await runtime.wait_until_idle()
        functions.orchestrators["flow"] = orchestrator(after)
        await runtime.raise_event(instance_id, "go", json_input(1))
        status = await runtime.wait_for_instance(instance_id)

    assert (status["runtimeStatus"], status["output"]) == ("Completed", output)


async def test_an_instance_list_shows_inputs_by_default(emulator: RunningEmulator) -> None:
    started = await emulator.request(
        "POST",
        f"{WEBHOOKS}/orchestrators/wait_for_approval/with-input",
        json=json.dumps({"n": 1}),
        key=emulator.system_key,
    )
    assert started.status == 202
    await emulator.wait_until_idle()
    url = f"{WEBHOOKS}/instances"
    shown = (await emulator.request("GET", url, key=emulator.system_key)).json()
    hidden = await emulator.request(
        "GET", url, params={"showInput": "false"}, key=emulator.system_key
    )
    assert [s["input"] for s in shown] == [json.dumps({"n": 1})]
    assert [s["input"] for s in hidden.json()] == [None]
