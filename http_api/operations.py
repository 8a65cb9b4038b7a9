"""Every route is an `Operation`: method, path, role, models. One table feeds both the
Functions routes and the OpenAPI document, so the two cannot drift apart.

The platform asks no key of any route (a browser cannot keep one secret): the checks are here.
A route function hands its request to `Operation.serve`, which refuses oversized and
cross-site requests, authenticates the caller, checks the role, runs the handler (blocking
handlers in a worker thread), maps errors to the one error shape, and audits failed attempts
at audited actions (refusals aggregated, see `DenialWindows`). The only other routes are the
few `public_route`s, which say nothing about the deployment.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from pydantic import BaseModel, TypeAdapter

from http_api import bp
from http_api.calls import Call, Reply
from http_api.errors import ApiError, error_response, json_response
from http_api.request_guard import check_request
from http_api.services import services
from shared.audit import AuditOutcome
from shared.auth import AuthError, Principal, Role, authenticator
from shared.models import AuditEntry
from shared.secrets import SecretStoreError
from shared.settings import SettingsError
from shared.storage.blobs import BlobStoreError
from shared.storage.tables import AlreadyExists, ConcurrencyConflict, InvalidContinuation, NotFound

log = logging.getLogger(__name__)

# Every API route starts with it; the console owns the rest of the site.
API_PREFIX = "api/"
Handler = Callable[[Call], Any] | Callable[[Call], Awaitable[Any]]
# Keyed by (method, path): a module imported again (a host reloading the app) replaces its own.
REGISTRY: dict[tuple[str, str], Operation] = {}
# Routes served to anyone; every other route is an operation (tests check there is no third kind).
PUBLIC_ROUTES: set[str] = set()
# Windows of aggregated refusals, closed by timers that must not be garbage-collected.
_CLOSING: set[asyncio.Task[None]] = set()
INTERNAL = ApiError(500, "internal_error", "the request could not be completed")
# A dependency down or unreachable: worth a retry, never the caller's fault.
UNAVAILABLE = (SecretStoreError, BlobStoreError, ServiceRequestError, ServiceResponseError)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    # Required: every operation needs a bearer token with at least this role. Anonymous
    # routes (/health) are plain Functions routes, never operations.
    role: Role
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    # The audit action written for this operation ("server.create"); None for reads.
    action: str | None = None
    errors: tuple[int, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            raise TypeError(f"{self.method} {self.path} needs a role, not {self.role!r}")

    @property
    def route(self) -> str:
        """The Functions route: the API lives under `api/` (host.json's route prefix is
        empty so that the console can be served at the site root)."""
        return API_PREFIX + self.path.lstrip("/")

    @property
    def operation_id(self) -> str:
        return self.summary.lower().replace(" ", "_").replace("'", "")

    async def serve(self, req: func.HttpRequest, handler: Handler) -> func.HttpResponse:
        try:
            check_request(req)
        except ApiError as exc:
            return error_response(exc)
        try:
            principal = await self._authorize(req)
        except AuthError as exc:
            challenge = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
            return error_response(ApiError(exc.status, exc.code, exc.message), challenge)
        except Exception as exc:
            _log_failure(self, exc)
            return error_response(ApiError(503, "auth_unavailable", "cannot authenticate now"))
        call = Call(req=req, principal=principal, operation=self)
        try:
            return self._reply(await _run(handler, call))
        except ApiError as exc:
            await asyncio.to_thread(_audit_failure, call, exc, AuditOutcome.FAILED)
            return error_response(exc)
        except Exception as exc:
            known = _translate(exc)
            if known is None:
                _log_failure(self, exc)
                if call.attempted:  # a destructive action failed midway: say so after its attempt
                    await asyncio.to_thread(_audit_failure, call, INTERNAL, AuditOutcome.FAILED)
                return error_response(INTERNAL)
            await asyncio.to_thread(_audit_failure, call, known, AuditOutcome.FAILED)
            return error_response(known)

    async def _authorize(self, req: func.HttpRequest) -> Principal:
        principal = await authenticator().authenticate(req.url, dict(req.headers))
        if not principal.may(self.role):
            if self.action:
                await _audit_refusal(Call(req=req, principal=principal, operation=self))
            raise AuthError(403, "forbidden", f"this operation requires {self.role.claim}")
        return principal

    def _reply(self, result: Any) -> func.HttpResponse:
        reply = result if isinstance(result, Reply) else Reply(result)
        status = reply.status or self.status
        if status == 204:
            return func.HttpResponse(status_code=204, headers={"Cache-Control": "no-store"})
        return json_response(_jsonable(reply.payload), status, reply.headers)


def operation(method: str, path: str, role: Role, summary: str, **options: Any) -> Operation:
    """Declares an operation and records it for the OpenAPI document."""
    declared = Operation(method=method, path=path, role=role, summary=summary, **options)
    REGISTRY[(method, path)] = declared
    return declared


def public_route(route: str, methods: list[str]) -> Callable[[Any], Any]:
    """Registers a route served to anyone, with no check of the caller. Only what says
    nothing about the deployment belongs here (liveness, the API's description, the console's
    files and its public sign-in settings)."""
    PUBLIC_ROUTES.add(route)
    return bp.route(route=route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)


def operations() -> list[Operation]:
    """Every declared operation, by path then method."""
    return [REGISTRY[key] for key in sorted(REGISTRY, key=lambda key: (key[1], key[0]))]


async def _run(handler: Handler, call: Call) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(call)
    # Table and blob SDK calls block: keep them off the host's event loop.
    return await asyncio.to_thread(handler, call)


def _jsonable(payload: Any) -> Any:
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    if isinstance(payload, list | tuple | dict):
        return TypeAdapter(Any).dump_python(payload, mode="json")
    return payload


def _translate(exc: Exception) -> ApiError | None:
    """Errors of the layers below that mean something to the caller."""
    if isinstance(exc, InvalidContinuation):
        return ApiError(400, "invalid_continuation", "the continuation token is not valid")
    if isinstance(exc, AlreadyExists):
        return ApiError(409, "already_exists", "a resource with this id already exists")
    if isinstance(exc, ConcurrencyConflict):
        return ApiError(409, "changed_meanwhile", "the resource changed meanwhile; try again")
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", "the resource does not exist")
    if isinstance(exc, SettingsError):
        return ApiError(503, "misconfigured", "the service is not configured correctly")
    if isinstance(exc, UNAVAILABLE):
        return ApiError(503, "storage_unavailable", "a storage service is unavailable; retry")
    return None


def _audit_failure(call: Call, error: ApiError, outcome: AuditOutcome) -> None:
    if call.operation.action is None or call.audited:
        return
    try:
        call.audit(outcome=outcome, message=f"{error.status} {error.code}: {error.message}")
    except Exception as exc:
        # The refusal itself is what the caller must see; the audit layer logged its failure.
        log.error("failed attempt at %s not audited: %s", call.operation.action, type(exc).__name__)


async def _audit_refusal(call: Call) -> None:
    """Audits a caller refused for their role: the first refusal per caller and action in a
    window at once, the others counted into it when the window closes."""
    try:
        audit, windows = services().repos.audit, services().denials
    except Exception as exc:
        log.error("refusal not audited: %s", type(exc).__name__)
        return
    action = call.operation.action
    message = f"403 forbidden: requires {call.operation.role.claim}"

    def entry(shared: bool) -> AuditEntry:
        actor = "several actors" if shared else None
        return call.audit_entry(outcome=AuditOutcome.DENIED, message=message, actor=actor)

    opened = windows.refused(call.principal.subject, str(action), entry)
    if opened is None:
        return
    key, first = opened
    await asyncio.to_thread(_write_audit, audit.append, first)

    def close() -> None:
        total = windows.close(key)
        if total is not None:
            task = asyncio.ensure_future(asyncio.to_thread(_write_audit, audit.replace, total))
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)

    asyncio.get_running_loop().call_later(windows.seconds, close)


def _write_audit(write: Callable[[AuditEntry], Any], entry: AuditEntry) -> None:
    try:
        write(entry)
    except Exception as exc:
        # The refusal itself is what the caller must see.
        log.error("refusal at %s not audited: %s", entry.action, type(exc).__name__)


def _log_failure(operation: Operation, exc: BaseException) -> None:
    # The exception's text may quote a connection string or a URL with a signature: log
    # where it happened and its type, never its message.
    frames = traceback.extract_tb(exc.__traceback__)
    where = ", ".join(
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in frames[-4:]
    )
    log.error("%s failed with %s at %s", operation.operation_id, type(exc).__name__, where)
