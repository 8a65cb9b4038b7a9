"""HTTP triggers: route matching under the route prefix, keys, func.HttpRequest in and out.

Like the Functions host, the front refuses what a function must never see: a body over
`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` (413, before it is read), a Host that names no valid
authority (400), and a request the HTTP parser rejects (400, without echoing any of it).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from emulator.auth import Access, Keys, access_of, unauthorized
from emulator.clock import Clock
from emulator.function_log import logged_invocation
from emulator.invokers import Invoker, InvokerFactory
from emulator.routes import RouteTemplate

log = logging.getLogger("emulator")

# The Functions host's default limit on a request body, and the setting that changes it.
DEFAULT_BODY_LIMIT = 100 * 2**20
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"


class BodyTooLarge(Exception):
    """The request's body is over the host's limit."""


def body_limit() -> int:
    value = os.environ.get(BODY_LIMIT_SETTING, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_BODY_LIMIT


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


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, read only as far as `limit` allows (BodyTooLarge past it)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


async def to_http_request(
    request: web.Request, route_params: dict[str, str], body_limit: int = DEFAULT_BODY_LIMIT
) -> func.HttpRequest:
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
        body=await read_body(request, body_limit),
    )


def has_valid_host(request: web.Request) -> bool:
    try:
        str(request.url)  # built from the Host header: a bad port or address fails here
    except ValueError:
        return False
    return True


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
        self.body_limit = body_limit()

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
        if not has_valid_host(request):
            return web.Response(status=400)
        if not self._keys.allows(request, function.access):
            return unauthorized()
        return await self._invoke(function, request, params)

    async def _invoke(
        self, function: HttpFunction, request: web.Request, params: dict[str, str]
    ) -> web.StreamResponse:
        reason = f"HTTP {request.method} {request.path}"
        try:
            req = await to_http_request(request, params, self.body_limit)
        except BodyTooLarge:
            refused = web.Response(status=413)
            refused.force_close()  # the rest of the body is never read
            return refused
        try:
            with self._clock.busy(), logged_invocation(function.name, reason) as invocation:
                result = await function.invoker(req, invocation)
                return to_web_response(result)
        except Exception:
            return web.Response(status=500)


class _QuietRequestHandler(RequestHandler):
    """aiohttp answers a request its parser rejects with the offending text (up to 100 bytes
    of a header, such as an Authorization value) and logs it with a traceback; this one
    answers a bare status and logs only what kind of request it was."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc)
        log.warning("refused a malformed request (%d, %s)", status, type(exc).__name__)
        response = web.Response(status=status)
        response.force_close()
        return response


class _QuietServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class FrontRunner(web.AppRunner):
    """An AppRunner whose connections refuse malformed requests without echoing them."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer  # same state; only how connections are handled differs
        return server
