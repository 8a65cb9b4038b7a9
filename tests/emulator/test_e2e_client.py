"""End to end through the real DurableOrchestrationClient, called by the test app's HTTP
functions, which the emulator feeds the durable client binding."""

from __future__ import annotations

from emulator.testing import RunningEmulator
from tests.emulator.conftest import WEBHOOKS


async def _status(emu: RunningEmulator, instance_id: str) -> dict:
    response = await emu.request("GET", f"/api/status/{instance_id}", key=emu.function_key)
    return response.json()


async def test_fan_out_through_the_client(emulator: RunningEmulator) -> None:
    started = await emulator.request(
        "POST", "/api/start/fan_out", json=5, key=emulator.function_key
    )
    assert started.status == 202
    links = started.json()
    # create_check_status_response swapped in the request's origin
    assert links["statusQueryGetUri"].startswith(f"{emulator.base_url}{WEBHOOKS}/instances/")
    await emulator.wait_until_idle()
    status = await _status(emulator, links["id"])
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == 1 + 4 + 9 + 16 + 25
    assert status["historyLength"] > 0


async def test_async_activity_chain(emulator: RunningEmulator) -> None:
    started = await emulator.request(
        "POST", "/api/start/hello_chain?id=chain-1", json=["Ana", "Bo"]
    )
    assert started.json()["id"] == "chain-1"
    await emulator.wait_until_idle()
    assert (await _status(emulator, "chain-1"))["output"] == ["Hello Ana!", "Hello Bo!"]


async def test_external_event_through_the_client(emulator: RunningEmulator) -> None:
    await emulator.request("POST", "/api/start/wait_for_approval?id=appr-1")
    await emulator.wait_until_idle()
    waiting = await _status(emulator, "appr-1")
    assert (waiting["runtimeStatus"], waiting["customStatus"]) == ("Running", "waiting")
    raised = await emulator.request("POST", "/api/event/appr-1/approve", json={"ok": True})
    assert raised.status == 202
    await emulator.wait_until_idle()
    done = await _status(emulator, "appr-1")
    # the SDK client double-encodes raise_event data: the orchestrator gets JSON text (#295)
    assert done["output"] == {"approval": '{"ok": true}'}


async def test_entities_through_the_client(emulator: RunningEmulator) -> None:
    for amount in (2, 3):
        signal = await emulator.request("POST", "/api/entity/Counter/c1?op=add", json=amount)
        assert signal.status == 202
    await emulator.wait_until_idle()
    state = (await emulator.request("GET", "/api/entity/Counter/c1")).json()
    assert state == {"exists": True, "state": 5}
    missing = (await emulator.request("GET", "/api/entity/Counter/none")).json()
    assert missing == {"exists": False, "state": None}
    await emulator.request("POST", "/api/start/count_with_entity?id=cnt-1", json="c1")
    await emulator.wait_until_idle()
    assert (await _status(emulator, "cnt-1"))["output"] == 10


async def test_manage_instances_through_the_client(emulator: RunningEmulator) -> None:
    for instance_id in ("m-1", "m-2"):
        await emulator.request("POST", f"/api/start/wait_for_approval?id={instance_id}")
    await emulator.wait_until_idle()
    query = await emulator.request("GET", "/api/query", params={"prefix": "m-"})
    assert query.json() == ["m-1", "m-2"]
    assert (await emulator.request("POST", "/api/manage/m-1/suspend")).status == 202
    await emulator.wait_until_idle()
    assert (await _status(emulator, "m-1"))["runtimeStatus"] == "Suspended"
    assert (await emulator.request("POST", "/api/manage/m-1/resume")).status == 202
    assert (await emulator.request("POST", "/api/manage/m-1/terminate")).status == 202
    await emulator.wait_until_idle()
    assert (await _status(emulator, "m-1"))["runtimeStatus"] == "Terminated"
    purge = await emulator.request("POST", "/api/manage/m-1/purge")
    assert purge.json() == {"deleted": 1}
    gone = await emulator.request("GET", "/api/status/m-1")
    assert (gone.status, gone.json()) == (404, {"found": False})


async def test_management_payload_without_request(emulator: RunningEmulator) -> None:
    payload = (await emulator.request("POST", "/api/manage/any-id/payload")).json()
    assert payload["id"] == "any-id"
    assert payload["terminatePostUri"].startswith(
        f"{emulator.base_url}{WEBHOOKS}/instances/any-id/terminate?reason={{text}}"
    )
    assert f"code={emulator.system_key}" in payload["purgeHistoryDeleteUri"]
