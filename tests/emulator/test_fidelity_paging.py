"""Instance and entity lists come in pages, as on Azure (issue 11, section 1.2).

- durabletask `src/DurableTask.AzureStorage/Tracking/AzureTableTrackingStore.cs`,
  `QueryStateAsync`: one table segment per request, `Take(top)`, and its continuation token.
- azure-functions-durable-extension `src/WebJobs.Extensions.DurableTask/HttpApiHandler.cs`,
  `HandleGetStatusRequestAsync` and `HandleListEntitiesRequestAsync`: `top`, the
  `x-ms-continuation-token` request header in, the same header out;
  `OrchestrationStatusQueryCondition.cs`: `PageSize` 100 by default, and "Requests may return
  fewer records than the specified page size, even if there are more records".
- azure-functions-durable `models/DurableOrchestrationClient.py`: `get_status_by` reads the
  first page only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from emulator.testing import EmulatorResponse, RunningEmulator, run_emulator
from tests.emulator.conftest import EMULATOR_APP, WEBHOOKS

TOKEN = "x-ms-continuation-token"


async def start(emu: RunningEmulator, name: str, instance_id: str, value: Any = None) -> None:
    body = None if value is None else json.dumps(value)
    response = await emu.request(
        "POST", f"{WEBHOOKS}/orchestrators/{name}/{instance_id}", json=body, key=emu.system_key
    )
    assert response.status == 202


async def page(emu: RunningEmulator, path: str, token: str = "", **params: str) -> EmulatorResponse:
    headers = {TOKEN: token} if token else {}
    return await emu.request(
        "GET", f"{WEBHOOKS}/{path}", params=params, headers=headers, key=emu.system_key
    )


async def every_page(emu: RunningEmulator, path: str, **params: str) -> list[list[str]]:
    """The ids of each page, following the token to the end."""
    pages: list[list[str]] = []
    token = ""
    while True:
        response = await page(emu, path, token, **params)
        assert response.status == 200
        pages.append([item["instanceId"] for item in response.json()])
        token = response.headers[TOKEN]
        if not token:
            return pages


async def test_150_instances_come_in_pages_of_100(tmp_path: Path) -> None:
    async with run_emulator(EMULATOR_APP, tmp_path / "s.db") as emu:
        for n in range(150):
            await start(emu, "wait_for_approval", f"w-{n:03d}")
        await emu.wait_until_idle()
        pages = await every_page(emu, "instances")
        client = df.DurableOrchestrationClient(emu.host.client_urls().binding_json())
        first_only = await client.get_status_all()

    assert [len(p) for p in pages] == [100, 50]
    assert [i for p in pages for i in p] == [f"w-{n:03d}" for n in range(150)]
    assert len(first_only) == 100  # the SDK's get_status_all sees one page, as on Azure


async def test_a_filtered_page_can_be_short_or_empty(tmp_path: Path) -> None:
    async with run_emulator(EMULATOR_APP, tmp_path / "s.db") as emu:
        for n in range(6):
            await start(emu, "hello_chain", f"a-done-{n}", ["x"])  # completes
        for n in range(3):
            await start(emu, "wait_for_approval", f"b-wait-{n}")  # keeps running
        await emu.wait_until_idle()
        pages = await every_page(emu, "instances", runtimeStatus="Running", top="4")
        client = df.DurableOrchestrationClient(emu.host.client_urls().binding_json())
        first_only = await client.get_status_by(
            runtime_status=[df.OrchestrationRuntimeStatus.Running]
        )

    # the windows are a-done-0…3, a-done-4…b-wait-1, b-wait-2
    assert pages == [[], ["b-wait-0", "b-wait-1"], ["b-wait-2"]]
    assert len(first_only) == 3  # one page of 100 holds all nine here


async def test_page_size_and_token_checks(tmp_path: Path) -> None:
    async with run_emulator(EMULATOR_APP, tmp_path / "s.db") as emu:
        for n in range(3):
            await start(emu, "wait_for_approval", f"t-{n}")
        await emu.wait_until_idle()
        zero = await page(emu, "instances", top="0")
        word = await page(emu, "instances", top="many")
        forged = await page(emu, "instances", token="not-a-token")
        by_prefix = await every_page(emu, "instances", instanceIdPrefix="t-", top="2")

    assert (zero.status, word.status, forged.status) == (400, 400, 400)
    assert by_prefix == [["t-0", "t-1"], ["t-2"]]


async def test_entities_come_in_pages(tmp_path: Path) -> None:
    async with run_emulator(EMULATOR_APP, tmp_path / "s.db") as emu:
        for key in ("k1", "k2", "k3"):
            signal = await emu.request(
                "POST", f"{WEBHOOKS}/entities/Counter/{key}?op=add", json="1", key=emu.system_key
            )
            assert signal.status == 202
        await emu.wait_until_idle()
        first = await page(emu, "entities/counter", top="2", fetchState="true")
        second = await page(emu, "entities/counter", first.headers[TOKEN], top="2")

    assert [e["entityId"]["key"] for e in first.json()] == ["k1", "k2"]
    assert [e["state"] for e in first.json()] == [1, 1]
    assert [e["entityId"]["key"] for e in second.json()] == ["k3"]
    assert second.headers[TOKEN] == ""
