"""HTTP triggers: route matching under the route prefix, keys, func.HttpRequest in and out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from aiohttp import web

from emulator.auth import Access, Keys, access_of, unauthorized
from emulator.clock import Clock
from emulator.function_log import logged_invocation
from emulator.invokers import Invoker, InvokerFactory
from emulator.routes import RouteTemplate

log = logging.getLogger("emulator")


@dataclass
class HttpFunction:
    name: str
    route: str
    template: RouteTemplate
    methods: frozenset[str] | None
    access: Access
    invoker: Invoker

    def allows_method(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def _methods(trigger: Any) -> frozenset[str] | None:
    methods = getattr(trigger, "methods", None)
    if not methods:
        return None
    return frozenset(str(getattr(m, "value", m)).upper() for m in methods)


def build_http_functions(functions: list[Any], factory: InvokerFactory) -> list[HttpFunction]:
    built = []
    for function in functions:
        trigger = function.get_trigger()
        route = (trigger.route or function.get_function_name()).strip("/")
        built.append(
            HttpFunction(
                name=function.get_function_name(),
                route=route,
                template=RouteTemplate(route),
                methods=_methods(trigger),
                access=access_of(trigger.auth_level),
                invoker=factory.make(function),
            )
        )
    return sorted(built, key=lambda f: f.template.precedence)


async def to_http_request(request: web.Request, route_params: dict[str, str]) -> func.HttpRequest:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        params=dict(request.query),
        route_params=route_params,
        body=await request.read(),
    )


def to_web_response(result: Any) -> web.Response:
    if result is None:
        return web.Response(status=204)
    if isinstance(result, (str, bytes)):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function returned {type(result).__name__}, not HttpResponse")
    headers = dict(result.headers.items())
    if not any(k.lower() == "content-type" for k in headers):
        # as the Python worker does: a charset for text types only
        charset = f"; charset={result.charset}" if result.mimetype.startswith("text/") else ""
        headers["Content-Type"] = f"{result.mimetype}{charset}"
    return web.Response(status=result.status_code, headers=headers, body=result.get_body())


class HttpFront:
    """Answers every path under the route prefix with the matching HTTP function."""

    def __init__(
        self, functions: list[HttpFunction], route_prefix: str, keys: Keys, clock: Clock
    ) -> None:
        self.functions = functions
        self.prefix = route_prefix.strip("/")
        self._keys = keys
        self._clock = clock

    def local_path(self, path: str) -> str | None:
        """The path below the route prefix, or None when the path is outside it."""
        path = path.strip("/")
        if not self.prefix:
            return path
        if path.lower() == self.prefix.lower():
            return ""
        if path.lower().startswith(self.prefix.lower() + "/"):
            return path[len(self.prefix) + 1 :]
        return None

    def find(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        for function in self.functions:
            params = function.template.match(path)
            if params is not None and function.allows_method(method):
                return function, params
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        local = self.local_path(request.path)
        found = None if local is None else self.find(request.method, local)
        if found is None:
            # a bare 200 at the root tells a caller the host is up, as on Azure
            return web.Response(status=200 if request.path == "/" else 404)
        function, params = found
        if not self._keys.allows(request, function.access):
            return unauthorized()
        return await self._invoke(function, request, params)

    async def _invoke(
        self, function: HttpFunction, request: web.Request, params: dict[str, str]
    ) -> web.StreamResponse:
        reason = f"HTTP {request.method} {request.path}"
        try:
            with self._clock.busy(), logged_invocation(function.name, reason) as invocation:
                req = await to_http_request(request, params)
                result = await function.invoker(req, invocation)
                return to_web_response(result)
        except Exception:
            return web.Response(status=500)
