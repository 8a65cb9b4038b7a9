"""The public durable HTTP API (/runtime/webhooks/durabletask) and the RPC base URL."""

from __future__ import annotations

import json
from urllib.parse import urlparse

from emulator.testing import EmulatorResponse, RunningEmulator
from tests.emulator.conftest import WEBHOOKS


async def _start(
    emu: RunningEmulator, name: str, instance_id: str, value: object = None
) -> EmulatorResponse:
    # the Python client's encoding: the input's JSON text inside a JSON string
    body = None if value is None else json.dumps(value)
    return await emu.request(
        "POST", f"{WEBHOOKS}/orchestrators/{name}/{instance_id}", json=body, key=emu.system_key
    )


async def _status(emu: RunningEmulator, instance_id: str, query: str = "") -> EmulatorResponse:
    return await emu.request(
        "GET", f"{WEBHOOKS}/instances/{instance_id}{query}", key=emu.system_key
    )


async def test_start_then_status(emulator: RunningEmulator) -> None:
    started = await _start(emulator, "fan_out", "api-fan", 4)
    assert started.status == 202
    payload = started.json()
    assert payload["id"] == "api-fan"
    assert started.headers["Location"] == payload["statusQueryGetUri"]
    assert started.headers["Retry-After"] == "10"
    await emulator.wait_until_idle()
    # the check-status URL carries the system key and works as it is
    done = await emulator.request("GET", payload["statusQueryGetUri"], key=False)
    assert done.status == 200
    status = done.json()
    assert (status["runtimeStatus"], status["output"], status["name"]) == (
        "Completed",
        30,
        "fan_out",
    )
    assert "historyEvents" not in status


async def test_running_status_is_202_with_location(emulator: RunningEmulator) -> None:
    await _start(emulator, "wait_for_approval", "api-wait")
    await emulator.wait_until_idle()
    response = await _status(emulator, "api-wait")
    assert response.status == 202
    assert response.json()["customStatus"] == "waiting"
    assert urlparse(response.headers["Location"]).path == f"{WEBHOOKS}/instances/api-wait"


async def test_history_is_shown_on_request(emulator: RunningEmulator) -> None:
    await _start(emulator, "hello_chain", "api-hist", ["A"])
    await emulator.wait_until_idle()
    status = (
        await _status(emulator, "api-hist", "?showHistory=True&showHistoryOutput=true")
    ).json()
    assert status["output"] == ["Hello A!"]
    kinds = [e["EventType"] for e in status["historyEvents"]]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"


async def test_missing_instance_is_an_empty_404(emulator: RunningEmulator) -> None:
    response = await _status(emulator, "nobody-here")
    assert (response.status, response.body) == (404, b"")


async def test_webhooks_need_the_system_or_master_key(emulator: RunningEmulator) -> None:
    path = f"{WEBHOOKS}/instances"
    assert (await emulator.request("GET", path, key=False)).status == 401
    assert (await emulator.request("GET", path, key=emulator.function_key)).status == 401
    assert (await emulator.request("GET", path, key=emulator.system_key)).status == 200
    assert (await emulator.request("GET", path, key=emulator.master_key)).status == 200
    by_code = await emulator.request("GET", path, params={"code": emulator.system_key}, key=False)
    assert by_code.status == 200


async def test_rpc_base_url_answers_without_a_key(emulator: RunningEmulator) -> None:
    response = await emulator.request("GET", f"{emulator.rpc_base_url}instances/", key=False)
    assert (response.status, response.json()) == (200, [])


async def test_other_task_hub_is_refused(emulator: RunningEmulator) -> None:
    response = await emulator.request(
        "GET", f"{WEBHOOKS}/instances", params={"taskHub": "Other"}, key=emulator.system_key
    )
    assert response.status == 400


async def test_bad_starts_are_400_with_exception_message(emulator: RunningEmulator) -> None:
    unknown = await _start(emulator, "no_such_orchestrator", "x1")
    assert unknown.status == 400
    assert "no_such_orchestrator" in unknown.json()["ExceptionMessage"]
    bad_id = await emulator.request(
        "POST", f"{WEBHOOKS}/orchestrators/fan_out/@entity@k", key=emulator.system_key
    )
    assert bad_id.status == 400 and "@" in bad_id.json()["ExceptionMessage"]
    not_json = await emulator.request(
        "POST", f"{WEBHOOKS}/orchestrators/fan_out/x2", data="{not json", key=emulator.system_key
    )
    assert not_json.status == 400
    assert (await _status(emulator, "x1")).status == 404
    assert (await _status(emulator, "x2")).status == 404


async def test_start_over_a_running_instance_is_refused(emulator: RunningEmulator) -> None:
    assert (await _start(emulator, "wait_for_approval", "twice")).status == 202
    await emulator.wait_until_idle()
    again = await _start(emulator, "wait_for_approval", "twice")
    assert again.status == 500  # OrchestrationAlreadyExistsException, uncaught on Azure too
    assert "already exists" in again.json()["ExceptionMessage"]


async def test_raise_event_codes(emulator: RunningEmulator) -> None:
    url = f"{WEBHOOKS}/instances/ev1/raiseEvent/approve"
    assert (await emulator.request("POST", url, json=1, key=emulator.system_key)).status == 404
    await _start(emulator, "wait_for_approval", "ev1")
    await emulator.wait_until_idle()
    wrong_type = await emulator.request(
        "POST", url, data="x", headers={"Content-Type": "text/plain"}, key=emulator.system_key
    )
    assert wrong_type.status == 400
    raw = await emulator.request("POST", url, json={"by": "api"}, key=emulator.system_key)
    assert raw.status == 202
    await emulator.wait_until_idle()
    status = (await _status(emulator, "ev1")).json()
    # raw JSON posted to the webhook arrives as an object (only the SDK client double-encodes)
    assert status["output"] == {"approval": {"by": "api"}}
    gone = await emulator.request("POST", url, json=1, key=emulator.system_key)
    assert gone.status == 410


async def test_terminate_suspend_resume_codes(emulator: RunningEmulator) -> None:
    base = f"{WEBHOOKS}/instances/op1"
    key = emulator.system_key
    assert (await emulator.request("POST", f"{base}/terminate", key=key)).status == 404
    await _start(emulator, "wait_for_approval", "op1")
    await emulator.wait_until_idle()
    assert (await emulator.request("POST", f"{base}/suspend?reason=r", key=key)).status == 202
    await emulator.wait_until_idle()
    assert (await _status(emulator, "op1")).json()["runtimeStatus"] == "Suspended"
    assert (await emulator.request("POST", f"{base}/resume?reason=r", key=key)).status == 202
    await emulator.wait_until_idle()
    assert (await _status(emulator, "op1")).json()["runtimeStatus"] == "Running"
    assert (await emulator.request("POST", f"{base}/terminate?reason=bye", key=key)).status == 202
    await emulator.wait_until_idle()
    final = await _status(emulator, "op1")
    assert (final.status, final.json()["runtimeStatus"]) == (200, "Terminated")
    assert (await emulator.request("POST", f"{base}/terminate", key=key)).status == 410


async def test_rewind_is_refused_clearly(emulator: RunningEmulator) -> None:
    await _start(emulator, "wait_for_approval", "rw1")
    await emulator.wait_until_idle()
    running = await emulator.request(
        "POST", f"{WEBHOOKS}/instances/rw1/rewind", key=emulator.system_key
    )
    assert running.status == 500  # InvalidOperationException, as on Azure
    # a raw list input breaks get_input() exactly as on Azure, so the instance fails
    await emulator.request(
        "POST", f"{WEBHOOKS}/orchestrators/hello_chain/rw2", json=["x"], key=emulator.system_key
    )
    await emulator.wait_until_idle()
    assert (await _status(emulator, "rw2")).json()["runtimeStatus"] == "Failed"
    as_error = await _status(emulator, "rw2", "?returnInternalServerErrorOnFailure=true")
    assert as_error.status == 500
    assert (await _status(emulator, "rw2")).status == 200
    failed = await emulator.request(
        "POST", f"{WEBHOOKS}/instances/rw2/rewind", key=emulator.system_key
    )
    assert failed.status == 501
    assert "not supported" in failed.json()


async def test_restart_and_purge(emulator: RunningEmulator) -> None:
    key = emulator.system_key
    await _start(emulator, "hello_chain", "rs1", ["R"])
    await emulator.wait_until_idle()
    restarted = await emulator.request("POST", f"{WEBHOOKS}/instances/rs1/restart", key=key)
    assert restarted.status == 202
    new_id = restarted.json()["id"]
    assert new_id != "rs1"
    await emulator.wait_until_idle()
    assert (await _status(emulator, new_id)).json()["output"] == ["Hello R!"]
    purged = await emulator.request("DELETE", f"{WEBHOOKS}/instances/rs1", key=key)
    assert (purged.status, purged.json()) == (200, {"instancesDeleted": 1})
    assert (await emulator.request("DELETE", f"{WEBHOOKS}/instances/rs1", key=key)).status == 404
    assert (await emulator.request("DELETE", f"{WEBHOOKS}/instances/", key=key)).status == 400
    by_filter = await emulator.request(
        "DELETE",
        f"{WEBHOOKS}/instances/",
        params={"createdTimeFrom": "2000-01-01T00:00:00Z", "runtimeStatus": "Completed"},
        key=key,
    )
    assert (by_filter.status, by_filter.json()) == (200, {"instancesDeleted": 1})


async def test_query_filters(emulator: RunningEmulator) -> None:
    for instance_id in ("q-a", "q-b", "other"):
        await _start(emulator, "hello_chain", instance_id, ["Q"])
    await _start(emulator, "wait_for_approval", "q-wait")
    await emulator.wait_until_idle()

    async def ids(**params: str) -> list[str]:
        response = await emulator.request(
            "GET", f"{WEBHOOKS}/instances", params=params, key=emulator.system_key
        )
        return sorted(s["instanceId"] for s in response.json())

    assert await ids(instanceIdPrefix="q-") == ["q-a", "q-b", "q-wait"]
    assert await ids(runtimeStatus="Running") == ["q-wait"]
    assert await ids(createdTimeFrom="2999-01-01T00:00:00Z") == []
    assert len(await ids(top="2")) == 2


async def test_create_and_wait(emulator: RunningEmulator) -> None:
    done = await emulator.request(
        "POST",
        f"{WEBHOOKS}/orchestrators/hello_chain?timeout=20&pollingInterval=0.05",
        json=json.dumps(["W"]),
        key=emulator.system_key,
    )
    assert (done.status, done.json()) == (200, ["Hello W!"])
    waiting = await emulator.request(
        "POST",
        f"{WEBHOOKS}/orchestrators/wait_for_approval?timeout=0&pollingInterval=1",
        key=emulator.system_key,
    )
    assert waiting.status == 202
    assert "statusQueryGetUri" in waiting.json()


async def test_entity_endpoints(emulator: RunningEmulator) -> None:
    key = emulator.system_key
    url = f"{WEBHOOKS}/entities/Counter/e1"
    assert (await emulator.request("GET", url, key=key)).status == 404
    signal = await emulator.request("POST", f"{url}?op=add", json=json.dumps(7), key=key)
    assert signal.status == 202
    await emulator.wait_until_idle()
    state = await emulator.request("GET", url, key=key)
    assert (state.status, state.json()) == (200, 7)
    listed = await emulator.request("GET", f"{WEBHOOKS}/entities/counter?fetchState=true", key=key)
    assert [e["entityId"] for e in listed.json()] == [{"name": "counter", "key": "e1"}]
    deleted = await emulator.request("DELETE", url, key=key)
    assert deleted.status == 202
    await emulator.wait_until_idle()
    assert (await emulator.request("GET", url, key=key)).status == 404
    bad_name = f"{WEBHOOKS}/entities/Coun@ter/e1?op=add"
    refused = await emulator.request("POST", bad_name, json=json.dumps(1), key=key)
    assert refused.status == 400
