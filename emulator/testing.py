"""Run the emulator inside a test, on a free port of 127.0.0.1.

    async with run_emulator(app_dir, tmp_path / "state.sqlite", virtual_time=True) as emu:
        response = await emu.request("POST", "/api/start", json={"n": 3})
        await emu.wait_until_idle()
        status = await emu.request("GET", f"/runtime/webhooks/durabletask/instances/{iid}")

Environment variables given in `env` (and those `local.settings.json` adds) are restored on
exit, and the app's modules are forgotten, so another app folder can be hosted next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from emulator.clock import Clock, VirtualClock
from emulator.host import EmulatorHost, HostOptions

_NO_JSON = object()


@dataclass(frozen=True)
class EmulatorResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


class RunningEmulator:
    def __init__(self, host: EmulatorHost, session: aiohttp.ClientSession) -> None:
        self.host = host
        self._session = session

    @property
    def base_url(self) -> str:
        return self.host.origin

    @property
    def rpc_base_url(self) -> str:
        """The client binding's `rpcBaseUrl` (the loopback RPC listener, with its secret)."""
        return self.host.client_urls().rpc_base

    @property
    def function_key(self) -> str:
        return self.host.keys.function_key

    @property
    def master_key(self) -> str:
        return self.host.keys.master_key

    @property
    def system_key(self) -> str:
        return self.host.keys.system_key

    @property
    def runtime(self) -> Any:
        return self.host.runtime

    @property
    def clock(self) -> Clock:
        return self.host.clock

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _NO_JSON,
        data: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        key: bool | str = True,
    ) -> EmulatorResponse:
        """`key=True` sends the master key (accepted everywhere); a string sends that key."""
        all_headers = dict(headers or {})
        if key:
            all_headers["x-functions-key"] = self.master_key if key is True else str(key)
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        kwargs: dict[str, Any] = {"params": params, "headers": all_headers, "data": data}
        if json is not _NO_JSON:
            kwargs["json"] = json
        async with self._session.request(method, url, **kwargs) as response:
            body = await response.read()
            return EmulatorResponse(response.status, dict(response.headers), body)

    async def wait_until_idle(self, seconds: float = 120) -> None:
        """Until no orchestration episode, entity batch or activity is runnable or running;
        TimeoutError after `seconds`."""
        await self.host.runtime.wait_until_idle(seconds)

    async def wait_for_instance(self, instance_id: str, seconds: float = 30) -> dict[str, Any]:
        """Until the instance is Completed, Failed, Terminated or Canceled; its status."""
        return dict(await self.host.runtime.wait_for_instance(instance_id, seconds))


@contextlib.contextmanager
def _environment(values: Mapping[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values or {})
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


async def _close_sdk_session() -> None:
    """The durable SDK keeps one aiohttp session per process, bound to the loop that made it."""
    with contextlib.suppress(ImportError, AttributeError):
        from azure.durable_functions.models.utils import http_utils

        await http_utils._close_session()
        # its lock binds to a loop on first contention; the next test runs on another loop
        http_utils._session_lock = asyncio.Lock()


@contextlib.asynccontextmanager
async def run_emulator(
    app_dir: str | Path,
    state_path: str | Path,
    *,
    virtual_time: bool = False,
    env: dict[str, str] | None = None,
    start_time: datetime | None = None,
    hub_name: str | None = None,
    clock: Clock | None = None,
    activity_concurrency: int | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Hosts `app_dir` in this process until the block exits. `clock` replaces the wall
    clock (or the virtual one); `hub_name` and `activity_concurrency` override host.json's."""
    if clock is None and virtual_time:
        clock = VirtualClock(start_time or datetime.now(UTC))
    options = HostOptions(
        app_dir=Path(app_dir),
        state_path=Path(state_path),
        host="127.0.0.1",
        port=0,
        virtual_time=virtual_time,
        clock=clock,
        hub_name=hub_name,
        activity_concurrency=activity_concurrency,
    )
    with _environment(env):
        host = EmulatorHost(options)
        try:
            await host.start()
            async with aiohttp.ClientSession() as session:
                yield RunningEmulator(host, session)
        finally:
            await host.stop()
            await _close_sdk_session()
            host.unload()
