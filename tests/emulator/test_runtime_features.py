"""Smaller runtime features: call_http, unknown functions, custom status, the clock."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from emulator.clock import SystemClock, VirtualClock
from tests.emulator.runtime_support import START, json_input, registry, running, shape

OS, OC = ("OrchestratorStarted", -1, None, None), ("OrchestratorCompleted", -1, None, None)


def http_caller(ctx: Any) -> Any:
    url = ctx.get_input()
    response = yield ctx.call_http("POST", url, content={"ping": 1})
    return response


async def test_call_http_is_one_built_in_activity(tmp_path: Path) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json()}, status=201)

    app = web.Application()
    app.router.add_post("/echo", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with running(registry({"http": http_caller}), tmp_path / "s.db") as runtime:
            url = str(server.make_url("/echo"))
            instance_id = await runtime.start_new("http", None, json_input(url))
            status = await runtime.wait_for_instance(instance_id)
            history = runtime.get_history(instance_id)
    finally:
        await server.close()

    assert status["output"]["statusCode"] == 201
    assert json.loads(status["output"]["content"]) == {"got": {"ping": 1}}
    assert shape(history)[2] == ("TaskScheduled", 0, None, "BuiltIn::HttpActivity")


async def test_custom_status_follows_the_latest_episode(tmp_path: Path) -> None:
    def stages(ctx: Any) -> Any:
        ctx.set_custom_status({"stage": 1})
        yield ctx.wait_for_external_event("next")
        ctx.set_custom_status({"stage": 2})
        yield ctx.wait_for_external_event("next")
        return "ok"

    async with running(registry({"stages": stages}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("stages", None, None)
        await runtime.wait_until_idle()
        first = await runtime.get_status(instance_id)
        await runtime.raise_event(instance_id, "next", "null")
        await runtime.wait_until_idle()
        second = await runtime.get_status(instance_id)

    assert first is not None and first["customStatus"] == {"stage": 1}
    assert second is not None and second["customStatus"] == {"stage": 2}


async def test_virtual_clock_waits_while_busy_and_jumps_when_idle() -> None:
    clock = VirtualClock(START)
    woke: list[Any] = []

    async def sleeper(hours: int) -> None:
        await clock.sleep_until(START + timedelta(hours=hours))
        woke.append(clock.now())

    with clock.busy():
        tasks = [asyncio.create_task(sleeper(h)) for h in (5, 1, 3)]
        for _ in range(50):
            await asyncio.sleep(0)
        assert woke == [] and clock.now() == START
    await asyncio.gather(*tasks)

    assert woke == [START + timedelta(hours=h) for h in (1, 3, 5)]


async def test_system_clock_sleeps_until_a_near_deadline() -> None:
    clock = SystemClock()
    target = clock.now() + timedelta(milliseconds=20)
    await clock.sleep_until(target)
    assert clock.now() >= target


async def test_a_short_timer_on_the_system_clock(tmp_path: Path) -> None:
    def brief(ctx: Any) -> Any:
        yield ctx.create_timer(ctx.current_utc_datetime + timedelta(milliseconds=50))
        return "woke"

    async with running(registry({"brief": brief}), tmp_path / "s.db", SystemClock()) as runtime:
        instance_id = await runtime.start_new("brief", None, None)
        status = await runtime.wait_for_instance(instance_id, timeout=30)
        history = runtime.get_history(instance_id)

    assert status["output"] == "woke"
    assert shape(history)[5] == ("TimerFired", -1, 0, None)
