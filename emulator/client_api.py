"""The durable client's HTTP API (protocol 4.2), served twice.

- `/runtime/webhooks/durabletask/…` on the public port: the management API; the durabletask
  system key or the master key is required (`code` or `x-functions-key`), like Azure.
- `/durabletask/<secret>/…` on the RPC listener, a port of its own bound to 127.0.0.1 (Azure's
  `LocalHttpListener`): the `rpcBaseUrl` of the client binding, which alone holds the secret.
  A request without it, or whose Host header is not a loopback name (DNS rebinding), gets 404.
  Nothing of this API is served on the public port without a key.

URLs handed out (check-status payloads, `Location`) are built from the configured origin, never
from the request's Host header.

Status codes and bodies follow the real extension: an empty 404 for a missing instance,
`{"ExceptionMessage": …}` on a bad start, 410 for operations on finished instances.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from emulator.auth import Access, Keys, unauthorized
from emulator.client_binding import RPC_PATH, WEBHOOK_PATH, ClientUrls
from emulator.client_params import bool_param, date_param, int_param, statuses_param
from emulator.contracts import (
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
    InvalidRequest,
    NotSupported,
    Page,
    Refused,
    RuntimeApi,
)
from emulator.history import TERMINAL_STATUSES
from emulator.paging import CONTINUATION_HEADER

log = logging.getLogger("emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# a check-status response (`CreateCheckStatusResponse`) asks for 10 s; a 202 status for 5 s
CHECK_STATUS_RETRY_AFTER = "10"
STATUS_RETRY_AFTER = "5"
_ORIGIN = web.RequestKey("origin", str)  # the origin of the listener, as configured


def json_response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    text = "" if body is None else json.dumps(body)
    return web.Response(
        status=status, text=text, content_type="application/json", headers=headers or {}
    )


def _error(status: int, message: str) -> web.Response:
    return json_response(status, {"Message": message, "ExceptionMessage": message})


def _http_error(exc: InvalidOperation) -> dict[str, Any]:
    """The HttpError body of an exception the extension's HTTP API did not catch."""
    return {
        "Message": "Something went wrong while processing your request",
        "ExceptionMessage": str(exc),
        "ExceptionType": exc.exception_type,
        "StackTrace": None,
    }


def map_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InstanceNotFound as exc:
            return json_response(404, str(exc) or "instance not found")
        except InstanceGone as exc:
            return json_response(410, str(exc) or "instance is no longer running")
        except InvalidRequest as exc:
            return json_response(400, {"Message": exc.summary, "ExceptionMessage": str(exc)})
        except InvalidOperation as exc:
            return json_response(500, _http_error(exc))
        except NotSupported as exc:
            return json_response(501, str(exc) or "not supported by the emulator")
        except Refused as exc:
            return _error(412, str(exc))
        except web.HTTPException:
            raise
        except Exception as exc:
            # the client parses every body as JSON, so even a crash answers JSON
            log.exception("durable API %s %s failed", request.method, request.path)
            return json_response(500, f"{type(exc).__name__}: {exc}")

    return wrapped


def _is_loopback(name: str | None) -> bool:
    if not name:
        return False
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name.lower() == "localhost"


def is_loopback_call(request: web.Request) -> bool:
    """A loopback peer that also named a loopback host (a page on a rebound DNS name cannot)."""
    try:
        host = urlsplit(f"//{request.host}").hostname
    except ValueError:
        return False
    return _is_loopback(request.remote) and _is_loopback(host)


class ClientApi:
    def __init__(
        self,
        runtime: RuntimeApi,
        keys: Keys,
        urls: Callable[[], ClientUrls],
    ) -> None:
        self._runtime = runtime
        self._keys = keys
        self._urls = urls  # the configured origin's URLs (the port is known once listening)

    # ---- wiring -------------------------------------------------------------------------
    def add_webhook_routes(self, app: web.Application) -> None:
        """The public management API, behind the system or master key."""
        for method, path, handler in self._routes():
            app.router.add_route(method, WEBHOOK_PATH + path, self._webhook_guard(handler))

    def add_rpc_routes(self, app: web.Application, secret: str) -> None:
        """The client binding's RPC API, for the RPC listener's application only."""
        base = f"{RPC_PATH}/{{rpc_secret}}"
        for method, path, handler in self._routes():
            app.router.add_route(method, base + path, self._rpc_guard(secret, handler))

    def _routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/orchestrators/{name}", self.start),
            ("POST", "/orchestrators/{name}/{instance_id}", self.start),
            ("GET", "/instances", self.query),
            ("GET", "/instances/", self.query),
            ("DELETE", "/instances", self.purge_by),
            ("DELETE", "/instances/", self.purge_by),
            ("GET", "/instances/{instance_id}", self.get_status),
            ("DELETE", "/instances/{instance_id}", self.purge),
            ("POST", "/instances/{instance_id}/raiseEvent/{event}", self.raise_event),
            ("POST", "/instances/{instance_id}/restart", self.restart),
            ("POST", "/instances/{instance_id}/{operation}", self.operate),
            ("GET", "/entities", self.list_entities),
            ("GET", "/entities/", self.list_entities),
            ("GET", "/entities/{name}", self.list_entities),
            ("GET", "/entities/{name}/{key}", self.read_entity),
            ("POST", "/entities/{name}/{key}", self.signal_entity),
            ("DELETE", "/entities/{name}/{key}", self.delete_entity),
        ]

    def _rpc_guard(self, secret: str, handler: Handler) -> Handler:
        expected = secret.encode()
        handler = map_errors(handler)

        async def guarded(request: web.Request) -> web.StreamResponse:
            given = request.match_info.get("rpc_secret", "").encode()
            if not hmac.compare_digest(given, expected) or not is_loopback_call(request):
                return web.Response(status=404)
            parts = urlsplit(self._urls().rpc_base)
            request[_ORIGIN] = f"{parts.scheme}://{parts.netloc}"
            return await self._hub_checked(handler, request)

        return guarded

    def _webhook_guard(self, handler: Handler) -> Handler:
        handler = map_errors(handler)

        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self._keys.allows(request, Access.SYSTEM):
                return unauthorized()
            request[_ORIGIN] = self._urls().origin
            return await self._hub_checked(handler, request)

        return guarded

    async def _hub_checked(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        hub = request.query.get("taskHub")
        hub_name = self._urls().hub_name
        if hub and hub.lower() != hub_name.lower():
            return _error(400, f"Task hub '{hub}' is not served here (hub: {hub_name}).")
        return await handler(request)

    def check_status(self, instance_id: str, status: int = 202) -> web.Response:
        payload = self._urls().check_status_payload(instance_id)
        headers = {
            "Location": payload["statusQueryGetUri"],
            "Retry-After": CHECK_STATUS_RETRY_AFTER,
        }
        return json_response(status, payload, headers)

    # ---- orchestrations -----------------------------------------------------------------
    async def start(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]  # as given: the runtime finds it whatever its case
        instance_id = request.match_info.get("instance_id")  # None: the runtime makes one
        input_text = await _orchestration_input(request)
        version = request.query.get("version")
        instance_id = await self._runtime.start_new(name, instance_id, input_text, version)
        return await self._respond_started(request, instance_id)

    async def _respond_started(self, request: web.Request, instance_id: str) -> web.Response:
        """The extension waits only when both `timeout` and `pollingInterval` are given
        (`HandleStartOrchestratorRequestAsync`); otherwise it answers at once."""
        timeout = request.query.get("timeout")
        interval = request.query.get("pollingInterval")
        if not timeout or not interval:
            return self.check_status(instance_id)
        return await self._wait(request, instance_id, _seconds(timeout), _seconds(interval))

    async def _wait(
        self, request: web.Request, instance_id: str, limit: float, every: float
    ) -> web.Response:
        """createAndWait: the output once finished, else the check-status response."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            status = await self._runtime.get_status(instance_id)
            state = (status or {}).get("runtimeStatus")
            if state in TERMINAL_STATUSES:
                body = status.get("output") if state == "Completed" else status
                return json_response(200, body)
            if loop.time() + every > deadline:
                return self.check_status(instance_id)
            await asyncio.sleep(every)

    async def get_status(self, request: web.Request) -> web.StreamResponse:
        instance_id = request.match_info["instance_id"]
        status = await self._runtime.get_status(
            instance_id,
            show_history=bool_param(request, "showHistory", False),
            show_history_output=bool_param(request, "showHistoryOutput", False),
            show_input=bool_param(request, "showInput", True),
        )
        if status is None:
            return web.Response(status=404)
        state = status.get("runtimeStatus")
        if state not in TERMINAL_STATUSES:  # Running, Pending, Suspended, ContinuedAsNew
            # the request's own URI, as `HandleGetStatusRequestAsync` answers, on the listener's
            # configured origin
            location = f"{request[_ORIGIN]}{request.rel_url}"
            headers = {"Location": location, "Retry-After": STATUS_RETRY_AFTER}
            return json_response(202, status, headers)
        failed = state == "Failed" and bool_param(request, "returnInternalServerErrorOnFailure")
        return json_response(500 if failed else 200, status)

    async def query(self, request: web.Request) -> web.StreamResponse:
        """One page, as Azure Storage answers (paging.py); the token comes and goes in the
        `x-ms-continuation-token` header, empty on the last page."""
        page = await self._runtime.query_page(
            created_from=date_param(request, "createdTimeFrom"),
            created_to=date_param(request, "createdTimeTo"),
            statuses=statuses_param(request),
            prefix=request.query.get("instanceIdPrefix") or None,
            show_input=bool_param(request, "showInput", True),
            top=int_param(request, "top"),
            continuation=request.headers.get(CONTINUATION_HEADER) or None,
        )
        return _page_response(page)

    async def raise_event(self, request: web.Request) -> web.StreamResponse:
        """`HttpApiHandler.HandleRaiseEventRequestAsync`, checks in its order: 404, 410 once
        finished, 400 unless the content type is application/json, 400 unless JSON."""
        instance_id = request.match_info["instance_id"]
        status = await self._runtime.get_status(instance_id, show_input=False)
        if status is None:
            return web.Response(status=404)
        if status["runtimeStatus"] in TERMINAL_STATUSES:
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        body = await request.text()
        try:
            json.loads(body)
        except ValueError:
            return _error(400, "Invalid JSON content")
        await self._runtime.raise_event(instance_id, request.match_info["event"], body)
        return web.Response(status=202)

    async def operate(self, request: web.Request) -> web.StreamResponse:
        operations = {
            "terminate": self._runtime.terminate,
            "suspend": self._runtime.suspend,
            "resume": self._runtime.resume,
            "rewind": self._runtime.rewind,
        }
        operation = operations.get(request.match_info["operation"].lower())
        if operation is None:
            return web.Response(status=404)
        await operation(request.match_info["instance_id"], request.query.get("reason"))
        return web.Response(status=202)

    async def restart(self, request: web.Request) -> web.StreamResponse:
        new_id = bool_param(request, "restartWithNewInstanceId", True)
        instance_id = await self._runtime.restart(request.match_info["instance_id"], new_id)
        return await self._respond_started(request, instance_id)

    async def purge(self, request: web.Request) -> web.StreamResponse:
        deleted = await self._runtime.purge(request.match_info["instance_id"])
        if not deleted:
            return web.Response(status=404)
        return json_response(200, {"instancesDeleted": deleted})

    async def purge_by(self, request: web.Request) -> web.StreamResponse:
        created_from = date_param(request, "createdTimeFrom")
        if created_from is None:  # the extension's answer, a JSON string
            return json_response(400, "Please provide value for 'createdTimeFrom' parameter.")
        deleted = await self._runtime.purge_by(
            created_from, date_param(request, "createdTimeTo"), statuses_param(request)
        )
        if not deleted:
            return web.Response(status=404)
        return json_response(200, {"instancesDeleted": deleted})

    # ---- entities -----------------------------------------------------------------------
    async def signal_entity(self, request: web.Request) -> web.StreamResponse:
        operation = request.query.get("op") or ""
        body = await request.text()
        name, key = request.match_info["name"], request.match_info["key"]
        await self._runtime.signal_entity(name.lower(), key, operation, body or None)
        return web.Response(status=202)

    async def delete_entity(self, request: web.Request) -> web.StreamResponse:
        name, key = request.match_info["name"], request.match_info["key"]
        await self._runtime.signal_entity(name.lower(), key, "delete", None)
        return web.Response(status=202)

    async def read_entity(self, request: web.Request) -> web.StreamResponse:
        name, key = request.match_info["name"], request.match_info["key"]
        exists, state = await self._runtime.read_entity(name.lower(), key)
        if not exists:
            return web.Response(status=404)
        return web.Response(status=200, text=state or "null", content_type="application/json")

    async def list_entities(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name")
        page = await self._runtime.list_entities_page(
            name.lower() if name else None,
            bool_param(request, "fetchState", False),
            top=int_param(request, "top"),
            continuation=request.headers.get(CONTINUATION_HEADER) or None,
        )
        return _page_response(page)


def _page_response(page: Page) -> web.Response:
    return json_response(200, page.items, {CONTINUATION_HEADER: page.continuation or ""})


async def _orchestration_input(request: web.Request) -> str | None:
    """The body as received: a JSON token, stored as the extension stores it.

    The Python client posts the input's JSON text wrapped in a JSON string (protocol 2.7)."""
    body = await request.text()
    if not body.strip():
        return None
    try:
        json.loads(body)
    except ValueError as exc:
        raise InvalidRequest("The request body must be JSON.") from exc
    return body


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidRequest(f"'{text}' is not a number of seconds.") from exc
    if value < 0:
        raise InvalidRequest(f"'{text}' is not a number of seconds.")
    return value
