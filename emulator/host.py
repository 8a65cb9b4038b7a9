"""Wires the host half: app, invokers, runtime, HTTP server and timer triggers."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from emulator.app_loader import LoadedApp, load_app, unload_app
from emulator.auth import Keys
from emulator.client_api import ClientApi
from emulator.client_binding import RPC_PATH, WEBHOOK_PATH, ClientUrls, rpc_base_url
from emulator.clock import Clock, SystemClock, VirtualClock
from emulator.http_front import FrontRunner, HttpFront, build_http_functions
from emulator.invokers import InvokerFactory
from emulator.runtime import DurableRuntime
from emulator.taskhub_mirror import TaskHubMirror, mirror_from_environment
from emulator.timers import ScheduleStatusStore, TimerScheduler, build_timer_functions

log = logging.getLogger("emulator")

# Set for the hosted app: the address the emulator listens on (its --host).
LISTEN_ADDRESS = "EMULATOR_LISTEN_ADDRESS"


@dataclass
class HostOptions:
    app_dir: Path
    state_path: Path
    host: str = "127.0.0.1"
    port: int = 7071
    virtual_time: bool = False
    clock: Clock | None = None
    # the durable client's RPC listener: always 127.0.0.1; 0 picks a free port
    rpc_port: int = 0
    # tests and benchmarks only: another hub name than host.json's (tests share one storage
    # account), more concurrent activities than host.json's (several Azure instances' worth)
    hub_name: str | None = None
    activity_concurrency: int | None = None


RPC_HOST = "127.0.0.1"


def _make_clock(options: HostOptions) -> Clock:
    if options.clock is not None:
        return options.clock
    return VirtualClock(datetime.now(UTC)) if options.virtual_time else SystemClock()


def _local_origin(host: str, port: int) -> str:
    """The origin the emulator calls itself on (wildcard binds are reached over loopback)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        return f"http://127.0.0.1:{port}"
    return f"http://[{host}]:{port}" if address.version == 6 else f"http://{host}:{port}"


class EmulatorHost:
    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.clock = _make_clock(options)
        self.keys = Keys.from_environment()
        self.app: LoadedApp | None = None
        self.runtime: Any = None
        self.mirror: TaskHubMirror | None = None
        self.port = options.port
        self.rpc_port = options.rpc_port
        # held by the client binding alone; a new one at every start, never printed
        self._rpc_secret = secrets.token_urlsafe(24)
        self.timers: TimerScheduler | None = None
        self.http: HttpFront | None = None
        self._factory: InvokerFactory | None = None
        self._runners: list[web.AppRunner] = []

    @property
    def origin(self) -> str:
        return _local_origin(self.options.host, self.port)

    @property
    def rpc_origin(self) -> str:
        return _local_origin(RPC_HOST, self.rpc_port)

    @property
    def hub_name(self) -> str:
        assert self.app is not None
        return self.app.config.hub_name

    def client_urls(self) -> ClientUrls:
        rpc_base = rpc_base_url(self.rpc_origin, self._rpc_secret)
        return ClientUrls(self.origin, self.hub_name, self.keys.system_key, rpc_base)

    async def start(self) -> None:
        # The app learns where it is reachable before it loads: an app may serve a mode meant
        # for loopback only (no credentials) and must refuse it on any other address.
        os.environ[LISTEN_ADDRESS] = self.options.host
        self.app = load_app(self.options.app_dir)
        if self.options.hub_name:
            self.app.config = replace(self.app.config, hub_name=self.options.hub_name)
        if self.options.activity_concurrency:
            concurrency = self.options.activity_concurrency
            self.app.config = replace(self.app.config, max_concurrent_activities=concurrency)
        self._factory = InvokerFactory(self.app, lambda: self.client_urls().binding_json())
        self.mirror = mirror_from_environment(
            self.options.state_path, self.hub_name, self.app.config.storage_connection
        )
        self.runtime = self._create_runtime(self._factory)
        await self.runtime.start()
        if self.mirror is not None:
            self.mirror.start()
        try:
            await self._serve()
        except BaseException:
            await self._close_listeners()
            await self.runtime.stop()
            self.runtime = None
            await self._stop_mirror()
            raise
        self.timers = self._create_timers(self._factory)
        self.timers.start()

    def _create_runtime(self, factory: InvokerFactory) -> DurableRuntime:
        assert self.app is not None
        return DurableRuntime(
            factory.registry(),
            self.options.state_path,
            hub_name=self.app.config.hub_name,
            clock=self.clock,
            activity_concurrency=self.app.config.max_concurrent_activities,
            versioning=self.app.config.versioning,
            on_commit=self.mirror.changed if self.mirror is not None else None,
        )

    def _create_timers(self, factory: InvokerFactory) -> TimerScheduler:
        assert self.app is not None
        store_path = self.options.state_path.with_name(self.options.state_path.name + ".timers")
        store = ScheduleStatusStore(store_path)
        return TimerScheduler(build_timer_functions(self.app.timers, factory), self.clock, store)

    def _web_apps(self) -> tuple[web.Application, web.Application]:
        """The public application (HTTP triggers, key-guarded management API) and the RPC
        listener's (the client binding's API only)."""
        assert self.app is not None and self._factory is not None
        client_api = ClientApi(self.runtime, self.keys, self.client_urls)
        public = web.Application(middlewares=[self._busy_middleware], client_max_size=100 * 2**20)
        client_api.add_webhook_routes(public)
        functions = build_http_functions(self.app.http, self._factory)
        self.http = HttpFront(functions, self.app.config.route_prefix, self.keys, self.clock)
        public.router.add_route("*", "/{tail:.*}", self.http.handle)
        rpc = web.Application(middlewares=[self._busy_middleware], client_max_size=100 * 2**20)
        client_api.add_rpc_routes(rpc, self._rpc_secret)
        return public, rpc

    @web.middleware
    async def _busy_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> Any:
        with self.clock.busy():
            return await handler(request)

    async def _serve(self) -> None:
        public, rpc = self._web_apps()
        self.rpc_port = await self._listen(rpc, RPC_HOST, self.options.rpc_port)
        self.port = await self._listen(public, self.options.host, self.options.port)

    async def _listen(self, app: web.Application, host: str, port: int) -> int:
        """Serves `app` on host:port; returns the port actually bound."""
        runner = FrontRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
        return port

    async def _close_listeners(self) -> None:
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()

    async def stop(self) -> None:
        if self.timers is not None:
            await self.timers.stop()
        await self._close_listeners()
        if self.runtime is not None:
            await self.runtime.stop()
        await self._stop_mirror()
        if self._factory is not None:
            self._factory.close()

    async def _stop_mirror(self) -> None:
        if self.mirror is not None:
            await asyncio.to_thread(self.mirror.stop)
            self.mirror = None

    def unload(self) -> None:
        """Forgets the app's modules (for hosting another app in the same process)."""
        if self.app is not None:
            unload_app(self.app)

    def banner(self) -> list[str]:
        assert self.app is not None and self.http is not None
        lines = [f"Durable Functions emulator: {self.app.app_dir}", "Functions:"]
        for function in self.http.functions:
            methods = ",".join(sorted(function.methods)) if function.methods else "all"
            path = "/".join(p for p in (self.http.prefix, function.route) if p)
            lines.append(
                f"  {function.name}: [{methods}] {self.origin}/{path} ({function.access.value})"
            )
        for timer in self.timers.functions if self.timers else []:
            lines.append(f"  {timer.name}: timerTrigger '{timer.schedule.expression}'")
        lines.append(f"  orchestrators: {', '.join(self.app.orchestrators) or '-'}")
        lines.append(f"  activities: {', '.join(self.app.activities) or '-'}")
        lines.append(f"  entities: {', '.join(self.app.entities) or '-'}")
        lines += [
            f"Task hub: {self.hub_name}",
            "Task hub mirror: "
            + (", ".join(self.mirror.tables) if self.mirror else "off (see the log above)"),
            f"Durable API: {self.origin}{WEBHOOK_PATH}/instances?code={self.keys.system_key}",
            f"Durable client RPC (the client binding only): {self.rpc_origin}{RPC_PATH}/…",
            f"Function key: {self.keys.function_key}",
            f"Master key: {self.keys.master_key}",
            f"Durable system key: {self.keys.system_key}",
            f"Clock: {'virtual' if isinstance(self.clock, VirtualClock) else 'system'}",
        ]
        return lines
