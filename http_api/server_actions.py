"""What a server can do beyond CRUD: test a connection, discover databases, add several."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.calls import Call, Reply
from http_api.durable import wake_policy_loops
from http_api.errors import ApiError
from http_api.lookups import check_policy_reference, server_or_404
from http_api.operations import operation
from http_api.probes import probe_timeout, run_probe
from http_api.schemas.servers import (
    AddDatabasesBody,
    AddDatabasesResult,
    AddFailure,
    ConnectionTestBody,
    ConnectionTestResult,
    DiscoveredDatabaseOut,
    DiscoveryResult,
)
from http_api.services import Services, services
from shared.audit import AuditOutcome
from shared.auth import Role
from shared.credentials import CredentialsError, server_spec_for
from shared.drills import is_scratch_name
from shared.engines.base import (
    ConnectionErrorKind,
    ConnectionResult,
    ConnectionSpec,
    EngineError,
)
from shared.engines.outcomes import MESSAGES, Outcome, outcome_of
from shared.models import AuditEntry, Database, Server
from shared.storage.tables import AlreadyExists

log = logging.getLogger(__name__)

PATH = "/servers/{server_id}"

TEST = operation(
    "POST",
    PATH + "/test",
    Role.OPERATOR,
    "Test server connection",
    tag="servers",
    body=ConnectionTestBody,
    response=ConnectionTestResult,
    action="server.test",
    errors=(409, 429),
    description="Without a body: the stored host with the stored credentials. With one: "
    "host, port, username and password all from the body; nothing stored is used. The "
    "answer is one of a few fixed outcomes, never the server's own words.",
)
DISCOVER = operation(
    "GET",
    PATH + "/discover",
    Role.OPERATOR,
    "Discover databases",
    tag="servers",
    response=DiscoveryResult,
    action="server.discover",
    errors=(409, 429),
)
ADD = operation(
    "POST", PATH + "/databases", Role.ADMIN, "Add discovered databases", tag="servers",
    body=AddDatabasesBody, response=AddDatabasesResult, status=201,
    action="server.add_databases", errors=(409,),
)  # fmt: skip


@bp.route(route=TEST.route, methods=[TEST.method])
async def api_test_server(req: func.HttpRequest) -> func.HttpResponse:
    async def handle(call: Call) -> ConnectionTestResult:
        return await run_probe(call, partial(_test, call))

    return await TEST.serve(req, handle)


@bp.route(route=DISCOVER.route, methods=[DISCOVER.method])
async def api_discover_databases(req: func.HttpRequest) -> func.HttpResponse:
    async def handle(call: Call) -> DiscoveryResult:
        return await run_probe(call, partial(_discover, call))

    return await DISCOVER.serve(req, handle)


@bp.route(route=ADD.route, methods=[ADD.method])
@bp.durable_client_input(client_name="client")
async def api_add_databases(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        result, policy_ids = await asyncio.to_thread(_add, call)
        await wake_policy_loops(client, policy_ids, "databases added")
        return Reply(result, 201)

    return await ADD.serve(req, handle)


def _engine(server: Server) -> Any:
    from shared.engines.registry import engine_for

    return engine_for(server.engine)


def _stored_spec(found: Services, server: Server) -> ConnectionSpec:
    try:
        spec = server_spec_for(server, found.secrets, found.settings, "")
    except CredentialsError as exc:
        raise ApiError(409, "credentials_missing", str(exc)) from None
    timeout = probe_timeout(spec.connect_timeout_seconds)
    return spec.model_copy(update={"connect_timeout_seconds": timeout})


def _request_spec(found: Services, server: Server, body: ConnectionTestBody) -> ConnectionSpec:
    assert body.host is not None and body.port is not None and body.username is not None
    return ConnectionSpec(
        engine=server.engine,
        host=body.host,
        port=body.port,
        username=body.username,
        password=body.password or "",
        database=body.database or "",
        tls_mode=body.tls_mode or server.tls_mode,
        connect_timeout_seconds=probe_timeout(found.settings.connect_timeout_seconds),
    )


def _attempt(server: Server, spec: ConnectionSpec, credentials: str) -> ConnectionTestResult:
    """One of the fixed outcomes; the server's and the driver's own words stay here."""
    result: ConnectionResult | None = None
    try:
        result = _engine(server).test_connection(spec)
        kind = None if result.ok else (result.error_kind or ConnectionErrorKind.UNKNOWN)
    except EngineError as exc:
        kind = exc.kind
    except Exception as exc:  # the driver's own errors may quote what it was given
        log.warning("connection test of %s failed with %s", server.id, type(exc).__name__)
        kind = ConnectionErrorKind.UNKNOWN
    outcome = outcome_of(kind)
    ok = outcome is Outcome.OK and result is not None
    return ConnectionTestResult(
        ok=ok,
        credentials=credentials,
        outcome=outcome,
        message=MESSAGES[outcome],
        server_version=result.server_version if ok and result else None,
        latency_ms=result.latency_ms if ok and result else None,
    )


def _test(call: Call) -> tuple[ConnectionTestResult, AuditEntry]:
    server_id = call.path_id("server_id")
    body: ConnectionTestBody = call.body()
    found = services()
    server = server_or_404(found, server_id)
    spec = _request_spec(found, server, body) if body.is_new else _stored_spec(found, server)
    result = _attempt(server, spec, "request" if body.is_new else "stored")
    # Not "credentials": the audit log redacts every field named like that.
    details = {"using": result.credentials, "host": spec.host, "port": spec.port}
    entry = call.audit_entry(
        f"servers/{server_id}",
        details={**details, "outcome": result.outcome},
        outcome=AuditOutcome.SUCCEEDED if result.ok else AuditOutcome.FAILED,
    )
    return result, entry


def _discover(call: Call) -> tuple[DiscoveryResult, AuditEntry]:
    server_id = call.path_id("server_id")
    found = services()
    server = server_or_404(found, server_id)
    try:
        discovered = _engine(server).list_databases(_stored_spec(found, server))
    except Exception as exc:  # an EngineError or the driver's own, which may quote anything
        kind = exc.kind if isinstance(exc, EngineError) else ConnectionErrorKind.UNKNOWN
        log.warning("discovery on %s failed: %s", server_id, kind.value)
        outcome = outcome_of(kind)
        raise ApiError(409, f"connection_{outcome.value}", MESSAGES[outcome]) from None
    known = {
        database.name: database.id for database in found.repos.databases.all_by_server(server_id)
    }
    databases = [
        DiscoveredDatabaseOut(
            name=item.name, is_system=item.is_system, size_bytes=item.size_bytes,
            added=item.name in known, database_id=known.get(item.name),
        )
        for item in discovered
        if not is_scratch_name(item.name)  # a restore drill's, dropped when it ends
    ]  # fmt: skip
    entry = call.audit_entry(f"servers/{server_id}", details={"found": len(databases)})
    return DiscoveryResult(server_id=server_id, databases=databases), entry


def _add(call: Call) -> tuple[AddDatabasesResult, list[str | None]]:
    from http_api.ids import new_id

    server_id = call.path_id("server_id")
    body: AddDatabasesBody = call.body()
    found = services()
    server = server_or_404(found, server_id)
    for index, item in enumerate(body.databases):
        check_policy_reference(found, f"databases.{index}.policy_id", item.policy_id)
    known = {database.name for database in found.repos.databases.all_by_server(server_id)}
    created: list[Database] = []
    failed: list[AddFailure] = []
    for item in body.databases:
        if item.name in known:
            failed.append(AddFailure(name=item.name, code="conflict", message="already added"))
            continue
        database = Database(
            id=item.id or new_id(item.name), server_id=server_id, name=item.name,
            display_name=item.display_name, enabled=item.enabled, policy_id=item.policy_id,
        )  # fmt: skip
        try:
            created.append(found.repos.databases.create(database))
            known.add(item.name)
        except AlreadyExists:
            failed.append(AddFailure(name=item.name, code="conflict", message="id already taken"))
    if not created:
        failures = [failure.model_dump() for failure in failed]
        raise ApiError(409, "conflict", "no database was added", failures)
    result = AddDatabasesResult(created=created, failed=failed)
    call.audit(f"servers/{server_id}", after={"created": [d.id for d in created]},
               details={"failed": [f.name for f in failed]})  # fmt: skip
    policies = [server.default_policy_id, *(database.policy_id for database in created)]
    return result, policies
