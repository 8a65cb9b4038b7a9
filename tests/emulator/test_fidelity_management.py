"""Management operations answer what the extension answers (issue 11, section 1.3), so the
Python client raises where it raises on Azure.

azure-functions-durable-extension `src/WebJobs.Extensions.DurableTask/`:
- `ContextImplementations/DurableClient.cs`: `SuspendAsync` only for Running, Pending or
  ContinuedAsNew, `ResumeAsync` only for Suspended, `RewindAsync` only for Failed, each
  otherwise an `InvalidOperationException`; `RestartAsync` of an unknown id an
  `ArgumentException`; `StartNewAsync` over a live id an `OrchestrationAlreadyExistsException`.
- `HttpApiHandler.cs`: `HandleRequestAsync` answers an uncaught exception with 500 and an
  HttpError ("Something went wrong while processing your request"), an `ArgumentException`
  with 400; `HandleRestartInstanceRequestAsync` answers 400 "InstanceId does not match a valid
  orchestration instance."; `HandleRaiseEventRequestAsync` checks 404, then 410, then the
  content type, then the JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import pytest

from emulator.testing import EmulatorResponse, RunningEmulator
from tests.emulator.conftest import WEBHOOKS

UNEXPECTED_500 = "The operation failed with an unexpected status code 500"


async def call(emu: RunningEmulator, method: str, path: str, **kwargs: Any) -> EmulatorResponse:
    return await emu.request(method, f"{WEBHOOKS}{path}", key=emu.system_key, **kwargs)


async def started(emu: RunningEmulator, instance_id: str) -> None:
    response = await call(emu, "POST", f"/orchestrators/wait_for_approval/{instance_id}")
    assert response.status == 202
    await emu.wait_until_idle()


def http_error(response: EmulatorResponse, status: int) -> str:
    assert response.status == status, response.text
    body = response.json()
    assert body["Message"] == {
        500: "Something went wrong while processing your request",
        400: "One or more of the arguments submitted is incorrect",
    }.get(status, body["Message"])
    return str(body["ExceptionMessage"])


async def test_operations_in_the_wrong_state_are_500s(emulator: RunningEmulator) -> None:
    await started(emulator, "m1")
    resumed = await call(emulator, "POST", "/instances/m1/resume?reason=r")
    assert http_error(resumed, 500) == (
        "Cannot resume the orchestration instance m1 because instance is in the Running state."
    )
    rewound = await call(emulator, "POST", "/instances/m1/rewind")
    assert http_error(rewound, 500) == (
        "The rewind operation is only supported on failed orchestration instances."
    )
    assert (await call(emulator, "POST", "/instances/m1/suspend")).status == 202
    await emulator.wait_until_idle()
    twice = await call(emulator, "POST", "/instances/m1/suspend")
    assert http_error(twice, 500) == (
        "Cannot suspend the orchestration instance m1 because instance is in the Suspended state."
    )
    again = await call(emulator, "POST", "/orchestrators/wait_for_approval/m1")
    assert (
        http_error(again, 500)
        == "An Orchestration instance with the status Suspended already exists."
    )
    assert again.json()["ExceptionType"].endswith("OrchestrationAlreadyExistsException")


async def test_restart_of_an_unknown_instance_is_a_400(emulator: RunningEmulator) -> None:
    response = await call(emulator, "POST", "/instances/nobody/restart")
    assert response.status == 400
    assert response.json()["Message"] == "InstanceId does not match a valid orchestration instance."
    assert "nobody was not found" in response.json()["ExceptionMessage"]


async def test_raise_event_checks_in_the_extensions_order(emulator: RunningEmulator) -> None:
    text = {"Content-Type": "text/plain"}
    missing = await call(
        emulator, "POST", "/instances/nobody/raiseEvent/go", data="x", headers=text
    )
    assert missing.status == 404  # not 400: the instance is looked up first
    await started(emulator, "e1")
    no_body = await call(emulator, "POST", "/instances/e1/raiseEvent/approve")
    assert no_body.status == 400  # no content type is not application/json
    not_json = await call(
        emulator,
        "POST",
        "/instances/e1/raiseEvent/approve",
        data="{oops",
        headers={"Content-Type": "application/json"},
    )
    assert (not_json.status, not_json.json()["Message"]) == (400, "Invalid JSON content")
    await emulator.wait_until_idle()
    assert (await emulator.runtime.get_status("e1"))["runtimeStatus"] == "Running"


async def test_the_python_client_raises_as_on_azure(emulator: RunningEmulator) -> None:
    """The real `DurableOrchestrationClient` on the app's binding: where Azure answers 500,
    the client raises; a caller's "resume if needed" cannot pass here and fail there."""
    client = df.DurableOrchestrationClient(emulator.host.client_urls().binding_json())
    await started(emulator, "c1")
    with pytest.raises(Exception, match=UNEXPECTED_500):
        await client.resume("c1", "not suspended")
    await client.suspend("c1", "pause")
    await emulator.wait_until_idle()
    with pytest.raises(Exception, match=UNEXPECTED_500):
        await client.suspend("c1", "pause twice")
    with pytest.raises(Exception, match="Something went wrong") as raised:
        await client.start_new("wait_for_approval", "c1")
    assert "already exists" in str(raised.value)
    await client.resume("c1", "go on")


async def test_a_purge_by_a_status_that_is_not_terminal_is_refused(
    emulator: RunningEmulator,
) -> None:
    """Issue 11, section 1.8. durabletask `src/DurableTask.AzureStorage/Tracking/
    AzureTableTrackingStore.cs`, `PurgeInstanceHistoryAsync`, keeps only Completed, Terminated,
    Canceled and Failed from the filter; with none left it purges the whole window, Running
    instances included. The emulator refuses instead of copying that; `createdTimeTo` defaults
    to now and a missing `createdTimeFrom` gets the extension's answer (`HttpApiHandler.cs`)."""
    await started(emulator, "alive")
    done = await call(emulator, "POST", "/orchestrators/fan_out/done", json="2")
    assert done.status == 202
    await emulator.wait_until_idle()
    window = {"createdTimeFrom": "2000-01-01T00:00:00Z"}
    for statuses in ("Running", "Completed,Running", "Pending", "Suspended"):
        refused = await call(
            emulator, "DELETE", "/instances/", params={**window, "runtimeStatus": statuses}
        )
        assert refused.status == 400
        assert "running ones included" in refused.json()["Message"]
    client = df.DurableOrchestrationClient(emulator.host.client_urls().binding_json())
    with pytest.raises(Exception, match="unexpected status code 400"):
        await client.purge_instance_history_by(
            created_time_from=datetime(2000, 1, 1, tzinfo=UTC),
            runtime_status=[df.OrchestrationRuntimeStatus.Running],
        )
    no_window = await call(emulator, "DELETE", "/instances/")
    assert (no_window.status, no_window.json()) == (
        400,
        "Please provide value for 'createdTimeFrom' parameter.",
    )
    assert {s["instanceId"] for s in await emulator.runtime.query()} == {"alive", "done"}
    # Without statuses the window's every instance goes on Azure, "alive" too: refused.
    everything = await call(emulator, "DELETE", "/instances/", params=window)
    assert everything.status == 412
    assert "'alive': it is Running" in everything.json()["Message"]
    assert {s["instanceId"] for s in await emulator.runtime.query()} == {"alive", "done"}
    purged = await call(
        emulator, "DELETE", "/instances/", params={**window, "runtimeStatus": "Completed"}
    )
    assert (purged.status, purged.json()) == (200, {"instancesDeleted": 1})
    assert [s["instanceId"] for s in await emulator.runtime.query()] == ["alive"]


async def test_a_purge_of_an_instance_that_has_not_finished_is_refused(
    emulator: RunningEmulator,
) -> None:
    """azure-functions-durable-extension 2.13.7 (and 3.x) `HttpApiHandler.
    HandleDeleteHistoryByIdRequestAsync` answers 404 only for an unknown id, then purges
    through `AzureStorageDurabilityProvider.PurgeInstanceHistoryByInstanceId` → durabletask
    `AzureTableTrackingStore.PurgeInstanceHistoryAsync(instanceId)` (1.17.5), which checks
    no status: a running instance's rows go, 200. Its later messages are then discarded, so
    whatever waits on it waits forever. The emulator refuses that loudly (412) and purges
    the instance once it has finished."""
    await started(emulator, "alive")
    await emulator.runtime.suspend("alive", "hold")
    await emulator.wait_until_idle()
    for status in ("Suspended", "Running"):
        if status == "Running":
            await emulator.runtime.resume("alive", "go on")
            await emulator.wait_until_idle()
        assert (await emulator.runtime.get_status("alive"))["runtimeStatus"] == status
        refused = await call(emulator, "DELETE", "/instances/alive")
        assert refused.status == 412
        message = refused.json()["Message"]
        assert f"it is {status}" in message and "answers 200" in message
        assert "waits forever" in message and "Terminate it" in message
    client = df.DurableOrchestrationClient(emulator.host.client_urls().binding_json())
    with pytest.raises(Exception, match="unexpected status code 412"):
        await client.purge_instance_history("alive")
    assert (await emulator.runtime.get_status("alive"))["runtimeStatus"] == "Running"
    await emulator.runtime.terminate("alive", "done with it")
    await emulator.wait_until_idle()
    result = await client.purge_instance_history("alive")
    assert result.instances_deleted == 1
    assert (await call(emulator, "DELETE", "/instances/alive")).status == 404


async def test_a_start_waits_only_with_both_timeout_and_polling_interval(
    emulator: RunningEmulator,
) -> None:
    """`HttpApiHandler.HandleStartOrchestratorRequestAsync` calls
    `WaitForCompletionOrCreateCheckStatusResponseAsync` only when `timeout` and
    `pollingInterval` are both given; with one alone it answers 202 at once."""
    body = json.dumps(["W"])
    alone = await call(emulator, "POST", "/orchestrators/hello_chain?timeout=20", json=body)
    assert alone.status == 202 and "statusQueryGetUri" in alone.json()
    both = await call(
        emulator, "POST", "/orchestrators/hello_chain?timeout=20&pollingInterval=0.05", json=body
    )
    assert (both.status, both.json()) == (200, ["Hello W!"])
