"""The durable client's RPC API is no open door (issue 10, section 2).

On Azure the extension serves the client's RPC API on a listener of its own bound to a loopback
address (`LocalHttpListener`, `rpcBaseUrl` in the binding: `BindingHelper.cs`), and the public
port answers the management API only with the system or master key (`HttpApiHandler.cs`). Here
the RPC listener also wants a secret that only the client binding holds, so neither a program on
this machine (a forwarder: `ssh -L`, a reverse proxy) nor a web page in the developer's browser
(a cross-site `text/plain` POST, which needs no preflight) can start or change anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import pytest

from emulator.client_api import ClientApi
from emulator.testing import EmulatorResponse, RunningEmulator
from tests.emulator.conftest import WEBHOOKS

VICTIM = "victim"
ROUTE_VALUES = {
    "name": "wait_for_approval",
    "instance_id": VICTIM,
    "event": "approve",
    "operation": "terminate",
    "key": "k1",
}


def rpc_routes(emu: RunningEmulator) -> list[tuple[str, str]]:
    """Every route of the client API, with its parameters filled in (entity routes name the
    Counter entity, instance routes the victim instance)."""
    api = ClientApi(emu.runtime, emu.host.keys, emu.host.client_urls)
    routes = []
    for method, template, _ in api._routes():
        values = {**ROUTE_VALUES, "name": "Counter"} if "entities" in template else ROUTE_VALUES
        routes.append((method, template.format(**values)))
    return routes


@asynccontextmanager
async def tcp_forwarder(target_port: int) -> AsyncIterator[int]:
    """A same-host forwarder (what `ssh -L` or a reverse proxy does): bytes in, bytes out."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        with suppress(Exception):
            await server.wait_closed()


async def arrange_victims(emu: RunningEmulator) -> None:
    started = await emu.request(
        "POST", f"{WEBHOOKS}/orchestrators/wait_for_approval/{VICTIM}", key=emu.system_key
    )
    assert started.status == 202
    signal = await emu.request(
        "POST", f"{WEBHOOKS}/entities/Counter/k1?op=add", json=json.dumps(1), key=emu.system_key
    )
    assert signal.status == 202
    await emu.wait_until_idle()


async def assert_nothing_changed(emu: RunningEmulator) -> None:
    await emu.wait_until_idle()
    listed = await emu.runtime.query()
    assert [(s["instanceId"], s["runtimeStatus"]) for s in listed] == [(VICTIM, "Running")]
    kinds = [e["EventType"] for e in emu.runtime.get_history(VICTIM)]
    assert kinds == [12, 0, 13]  # started, then nothing: no event raised, not terminated
    assert await emu.runtime.read_entity("counter", "k1") == (True, "1")


def refused(response: EmulatorResponse) -> bool:
    return response.status in (401, 403, 404)


async def send_all(emu: RunningEmulator, origin: str, prefix: str) -> list[str]:
    """Every route without a key; the ones that were not refused."""
    accepted = []
    for method, path in rpc_routes(emu):
        url = f"{origin}{prefix}{path}"
        response = await emu.request(method, url, data=json.dumps("x"), key=False)
        if not refused(response):
            accepted.append(f"{method} {url} -> {response.status}")
    return accepted


async def test_the_public_port_serves_no_route_without_a_key(emulator: RunningEmulator) -> None:
    await arrange_victims(emulator)
    origin = emulator.base_url
    secret_prefix = urlsplit(emulator.rpc_base_url).path.rstrip("/")
    for prefix in ("/durabletask", WEBHOOKS, secret_prefix):  # the secret is no key here either
        assert await send_all(emulator, origin, prefix) == []
    await assert_nothing_changed(emulator)


async def test_a_forwarder_gains_nothing(emulator: RunningEmulator) -> None:
    await arrange_victims(emulator)
    async with (
        tcp_forwarder(emulator.host.port) as public,
        tcp_forwarder(emulator.host.rpc_port) as rpc,
    ):
        for prefix in ("/durabletask", WEBHOOKS):
            assert await send_all(emulator, f"http://127.0.0.1:{public}", prefix) == []
        # the RPC listener itself, forwarded: without the binding's secret, nothing answers
        for prefix in ("/durabletask", "/durabletask/guess", WEBHOOKS):
            assert await send_all(emulator, f"http://127.0.0.1:{rpc}", prefix) == []
    await assert_nothing_changed(emulator)


async def test_the_rpc_listener_is_loopback_only(emulator: RunningEmulator) -> None:
    rpc = urlsplit(emulator.rpc_base_url)
    assert rpc.hostname == "127.0.0.1" and rpc.port == emulator.host.rpc_port
    assert rpc.port != emulator.host.port
    assert len(rpc.path.strip("/").split("/")[-1]) >= 32  # the secret: 24 random bytes


@pytest.mark.parametrize("where", ["public", "public-webhook", "rpc", "rpc-guessed"])
async def test_a_cross_site_simple_post_changes_nothing(
    emulator: RunningEmulator, where: str
) -> None:
    """What a page in the developer's browser can send without a preflight: a `text/plain`
    POST, no custom header, no key, to any port of this machine."""
    await arrange_victims(emulator)
    paths = {
        "public": f"{emulator.base_url}/durabletask",
        "public-webhook": f"{emulator.base_url}{WEBHOOKS}",
        "rpc": f"http://127.0.0.1:{emulator.host.rpc_port}/durabletask",
        "rpc-guessed": f"http://127.0.0.1:{emulator.host.rpc_port}/durabletask/guess",
    }
    headers = {"Content-Type": "text/plain", "Origin": "http://attacker.example"}
    for path in (
        "/orchestrators/wait_for_approval/stolen",
        f"/instances/{VICTIM}/raiseEvent/approve",
        f"/instances/{VICTIM}/terminate",
        "/entities/Counter/k1?op=add",
    ):
        response = await emulator.request(
            "POST", paths[where] + path, data='"x"', headers=headers, key=False
        )
        assert refused(response), (path, response.status)
    await assert_nothing_changed(emulator)


async def test_urls_in_a_202_use_the_configured_host(emulator: RunningEmulator) -> None:
    forged = {"Host": "attacker.example:8443", "X-Forwarded-Host": "attacker.example"}
    started = await emulator.request(
        "POST",
        f"{WEBHOOKS}/orchestrators/wait_for_approval/h1",
        headers=forged,
        key=emulator.system_key,
    )
    assert started.status == 202
    payload = started.json()
    urls = [v for k, v in payload.items() if k != "id"] + [started.headers["Location"]]
    assert len(urls) == 8
    assert all(url.startswith(f"{emulator.base_url}{WEBHOOKS}/instances/h1") for url in urls)
    await emulator.wait_until_idle()
    running = await emulator.request(
        "GET", f"{WEBHOOKS}/instances/h1", headers=forged, key=emulator.system_key
    )
    assert running.status == 202
    assert running.headers["Location"].startswith(f"{emulator.base_url}{WEBHOOKS}/instances/h1")
    # the RPC listener builds the same public URLs, whatever loopback name it was called by
    restarted = await emulator.request(
        "POST",
        f"{emulator.rpc_base_url}instances/h1/restart",
        headers={"Host": f"localhost:{emulator.host.rpc_port}"},
        key=False,
    )
    assert restarted.status == 202
    assert restarted.json()["statusQueryGetUri"].startswith(f"{emulator.base_url}{WEBHOOKS}/")
