"""Work the extension refuses fails the orchestration loudly (issue 11, sections 1.4, 1.5,
1.7 and 1.9), with a reason that says what Azure would do; never a catchable error.

azure-functions-durable-extension `src/WebJobs.Extensions.DurableTask/`:
- `ContextImplementations/DurableOrchestrationContext.cs`, `CallDurableTaskFunctionAsync`:
  retry intervals validated against the provider's longest delay, `ThrowIfFunctionDoesNotExist`,
  a sub-orchestration id equal to its own or its parent's, or starting with @, refused; all
  thrown inside the asynchronous call. `SignalEntity` throws synchronously.
  `SetCustomStatus` refuses more than 16 KB (`MessagePayloadDataConverter.cs`).
- `Listener/OutOfProcOrchestrationShim.cs`, `ProcessAsyncActionsV2`: awaits each call in a
  `try` that swallows every exception, so a refused call is never scheduled and the instance
  hangs; the custom status is set before, outside it, so that failure fails the orchestration.
- `AzureStorageDurabilityProvider.cs`, `ValidateDelayTime`: at most 6 days.
- `DurableClient.cs`, `SignalEntityAsync`: a client signal to an unknown entity is refused.
durabletask `src/DurableTask.AzureStorage/OrchestrationSessionManager.cs`: sub-orchestration
starts are not de-duplicated, so a running instance's id is silently started over.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from emulator.testing import run_emulator
from tests.emulator.conftest import EMULATOR_APP, WEBHOOKS
from tests.emulator.runtime_support import json_input, registry, running, shape

HANGS = "the instance stays Running forever"


def sets_status(ctx: Any) -> Any:
    ctx.set_custom_status("small")
    size = yield ctx.wait_for_external_event("size")
    ctx.set_custom_status("x" * int(size))
    yield ctx.wait_for_external_event("again")
    return "done"


@pytest.mark.parametrize(("characters", "fails"), [(8701, False), (8702, True)])
async def test_a_custom_status_over_16_kb_fails_the_orchestration(
    tmp_path: Path, characters: int, fails: bool
) -> None:
    """8,702 characters make 8,704 of JSON, 17,408 bytes of UTF-16: 17 KB, one too many."""
    async with running(registry({"s": sets_status}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("s", None, None)
        await runtime.wait_until_idle()
        await runtime.raise_event(instance_id, "size", json_input(characters))
        await runtime.wait_until_idle()
        status = await runtime.get_status(instance_id)

    assert status is not None
    if not fails:
        assert status["runtimeStatus"] == "Running"
        assert status["customStatus"] == "x" * characters
        return
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == (
        "Orchestrator function 's' failed: The UTF-16 size of the JSON-serialized payload must "
        "not exceed 16 KB. The current payload size is 17 KB."
    )
    assert status["customStatus"] == "small"  # the refused status was never set


def catches_everything(ctx: Any) -> Any:
    """The product's pattern that hides mistakes: a broad except around a call."""
    call = ctx.get_input()
    try:
        if call == "activity":
            yield ctx.call_activity("misspelt", 1)
        elif call == "sub-orchestrator":
            yield ctx.call_sub_orchestrator("misspelt", 1)
        elif call == "entity":
            yield ctx.call_entity(df.EntityId("misspelt", "k"), "get")
        elif call == "fan-out":
            yield ctx.task_all([ctx.call_activity("known", 1), ctx.call_activity("misspelt", 2)])
    except Exception as exc:
        return f"handled: {exc}"
    return "no error"


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        ("activity", "activity"),
        ("sub-orchestrator", "orchestrator"),
        ("entity", "entity"),
        ("fan-out", "activity"),
    ],
)
async def test_a_call_to_a_missing_function_fails_loudly(
    tmp_path: Path, call: str, kind: str
) -> None:
    functions = registry({"c": catches_everything}, {"known": str}, {"Counter": lambda ctx: None})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("c", None, json_input(call))
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    assert status["runtimeStatus"] == "Failed"  # not "handled: …": Azure gives no error
    assert status["output"].startswith("Orchestrator function 'c' failed in the emulator: ")
    assert (
        f"The function 'misspelt' doesn't exist, is disabled, or is not an {kind}"
        in (status["output"])
    )
    assert HANGS in status["output"]
    # nothing of the episode was scheduled, the known activity included
    assert [name for name, *_ in shape(history)] == [
        "OrchestratorStarted", "ExecutionStarted", "ExecutionCompleted", "OrchestratorCompleted",
    ]  # fmt: skip


def signals_nobody(ctx: Any) -> Any:
    ctx.signal_entity(df.EntityId("nobody", "k"), "add", 1)
    yield ctx.call_activity("known", 1)
    return "sent"


async def test_a_signal_to_a_missing_entity_fails_as_on_azure(tmp_path: Path) -> None:
    functions = registry({"s": signals_nobody}, {"known": str}, {"Counter": lambda ctx: None})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("s", None, None)
        status = await runtime.wait_for_instance(instance_id)

    assert status["output"] == (
        "Orchestrator function 's' failed: The function 'nobody' doesn't exist, is disabled, or "
        "is not an entity function. Additional info: The following are the known entity "
        "functions: 'counter'."
    )


async def test_a_disabled_activity_is_a_missing_one(tmp_path: Path) -> None:
    """`AzureWebJobs.say_hello.Disabled`: 2.13.x poison-loops on it (extension issue #3471),
    later builds treat it as missing (PR #3472); neither ever completes the call."""
    env = {"AzureWebJobs.say_hello.Disabled": "true"}
    async with run_emulator(EMULATOR_APP, tmp_path / "s.db", env=env) as emu:
        started = await emu.request(
            "POST",
            f"{WEBHOOKS}/orchestrators/hello_chain/h1",
            json=json.dumps(["Ana"]),
            key=emu.system_key,
        )
        assert started.status == 202
        status = await emu.wait_for_instance("h1")

    assert status["runtimeStatus"] == "Failed"
    assert "The function 'say_hello' doesn't exist, is disabled" in status["output"]


async def test_a_client_signal_to_a_missing_entity_is_refused(tmp_path: Path) -> None:
    async with run_emulator(EMULATOR_APP, tmp_path / "s.db") as emu:
        refused = await emu.request(
            "POST", f"{WEBHOOKS}/entities/Nobody/k?op=add", json="1", key=emu.system_key
        )
        accepted = await emu.request(
            "POST", f"{WEBHOOKS}/entities/counter/k?op=add", json="1", key=emu.system_key
        )

    assert refused.status == 400
    assert "The function 'nobody' doesn't exist" in refused.json()["Message"]
    assert accepted.status == 202


def retries_slowly(ctx: Any) -> Any:
    days = ctx.get_input()
    options = df.RetryOptions(int(timedelta(days=days).total_seconds() * 1000), 2)
    try:
        yield ctx.call_activity_with_retry("flaky", options, None)
    except Exception:
        return "gave up"
    return "succeeded"


def flaky(_: Any) -> None:
    raise RuntimeError("not yet")


@pytest.mark.parametrize(("days", "outcome"), [(6, "gave up"), (7, None)])
async def test_a_retry_interval_over_six_days_fails_loudly(
    tmp_path: Path, days: int, outcome: str | None
) -> None:
    functions = registry({"r": retries_slowly}, {"flaky": flaky})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("r", None, json_input(days))
        status = await runtime.wait_for_instance(instance_id)

    if outcome is not None:  # six days is allowed: one retry six days later, then the end
        assert (status["runtimeStatus"], status["output"]) == ("Completed", outcome)
        return
    assert status["runtimeStatus"] == "Failed"
    assert "firstRetryIntervalInMilliseconds = 604800000, over 6 days" in status["output"]
    assert "supports a maximum of 6 days for time-based delays" in status["output"]
    assert HANGS in status["output"]


def waits_forever(ctx: Any) -> Any:
    yield ctx.wait_for_external_event("never")


def starts_child(ctx: Any) -> Any:
    child_ids = ctx.get_input()
    try:
        yield ctx.task_all(
            [ctx.call_sub_orchestrator("waits_forever", None, child) for child in child_ids]
        )
    except Exception as exc:
        return f"handled: {exc}"
    return "started"


@pytest.mark.parametrize(
    ("child_ids", "expected"),
    [
        (["busy-child"], "whose instance is Running"),
        (["twin", "twin"], "whose instance is started in this episode"),
        (["PARENT-1"], "must be different than the instance ID of a parent"),
        (["@entity@k"], "must not start with @"),
        (["a/b"], "no client could then start, query or manage it"),
    ],
)
async def test_sub_orchestration_ids_azure_would_not_honour(
    tmp_path: Path, child_ids: list[str], expected: str
) -> None:
    functions = registry({"waits_forever": waits_forever, "parent": starts_child})
    async with running(functions, tmp_path / "s.db") as runtime:
        await runtime.start_new("waits_forever", "busy-child", None)
        await runtime.wait_until_idle()
        await runtime.start_new("parent", "parent-1", json_input(child_ids))
        status = await runtime.wait_for_instance("parent-1")
        busy = await runtime.get_status("busy-child")
        busy_history = runtime.get_history("busy-child")

    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Orchestrator function 'parent' failed in the emulator: ")
    assert expected in status["output"]
    # the live instance was not started over
    assert busy is not None and busy["runtimeStatus"] == "Running"
    assert len(busy_history) == 3
