"""Databases: create, list, read, update (including their own password), delete, enable/disable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.calls import Call, Reply
from http_api.durable import wake_policy_loops
from http_api.errors import conflict, invalid, not_found
from http_api.ids import new_id
from http_api.lookups import (
    check_policy_reference,
    database_or_404,
    effective_policy_id,
    rebuilt,
)
from http_api.operations import operation
from http_api.removal import remove_database
from http_api.schemas.databases import (
    DatabaseCreate,
    DatabaseDeleteQuery,
    DatabaseListQuery,
    DatabasePage,
    DatabaseUpdate,
)
from http_api.services import Services, services
from shared.auth import Role
from shared.credentials import database_binding, store_password
from shared.models import Database, Server, ServerAuth
from shared.secrets import database_secret_name

PATH = "/databases/{database_id}"
Change = tuple[Database | None, Database | None, list[str | None]]

LIST = operation(
    "GET",
    "/databases",
    Role.READER,
    "List databases",
    tag="databases",
    query=DatabaseListQuery,
    response=DatabasePage,
)
GET = operation("GET", PATH, Role.READER, "Get database", tag="databases", response=Database)
CREATE = operation(
    "POST",
    "/databases",
    Role.ADMIN,
    "Create database",
    tag="databases",
    body=DatabaseCreate,
    response=Database,
    status=201,
    action="database.create",
    errors=(409,),
)
UPDATE = operation(
    "PATCH",
    PATH,
    Role.ADMIN,
    "Update database",
    tag="databases",
    body=DatabaseUpdate,
    response=Database,
    action="database.update",
)
DELETE = operation(
    "DELETE",
    PATH,
    Role.ADMIN,
    "Delete database",
    tag="databases",
    query=DatabaseDeleteQuery,
    status=204,
    action="database.delete",
)
ENABLE = operation(
    "POST",
    PATH + "/enable",
    Role.ADMIN,
    "Enable database",
    tag="databases",
    response=Database,
    action="database.enable",
)
DISABLE = operation(
    "POST", PATH + "/disable", Role.ADMIN, "Disable database", tag="databases",
    response=Database, action="database.disable",
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_databases(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=GET.route, methods=[GET.method])
async def api_get_database(req: func.HttpRequest) -> func.HttpResponse:
    return await GET.serve(req, lambda c: database_or_404(services(), c.path_id("database_id")))


def _changing(
    client: df.DurableOrchestrationClient, work: Callable[[Call], Change], status: int = 200
) -> Callable[[Call], object]:
    """Runs a catalog change off the loop, then wakes the policy loops it concerns."""

    async def handle(call: Call) -> Reply:
        _, after, policy_ids = await asyncio.to_thread(work, call)
        await wake_policy_loops(client, policy_ids, "databases changed")
        return Reply(after, status)

    return handle


@bp.route(route=CREATE.route, methods=[CREATE.method])
@bp.durable_client_input(client_name="client")
async def api_create_database(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await CREATE.serve(req, _changing(client, _create, 201))


@bp.route(route=UPDATE.route, methods=[UPDATE.method])
@bp.durable_client_input(client_name="client")
async def api_update_database(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await UPDATE.serve(req, _changing(client, _update))


@bp.route(route=DELETE.route, methods=[DELETE.method])
@bp.durable_client_input(client_name="client")
async def api_delete_database(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await DELETE.serve(req, _changing(client, _delete, 204))


@bp.route(route=ENABLE.route, methods=[ENABLE.method])
@bp.durable_client_input(client_name="client")
async def api_enable_database(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await ENABLE.serve(req, _changing(client, lambda call: _switch(call, True)))


@bp.route(route=DISABLE.route, methods=[DISABLE.method])
@bp.durable_client_input(client_name="client")
async def api_disable_database(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await DISABLE.serve(req, _changing(client, lambda call: _switch(call, False)))


def _list(call: Call) -> DatabasePage:
    query: DatabaseListQuery = call.query()
    repo = services().repos.databases
    if query.server_id:
        page = repo.list_by_server(query.server_id, query.page_size, query.continuation)
    else:
        page = repo.list(query.page_size, query.continuation)
    return DatabasePage(items=page.items, continuation=page.continuation)


def _create(call: Call) -> Change:
    body: DatabaseCreate = call.body()
    found = services()
    server = found.repos.servers.get(body.server_id)
    if server is None:
        raise invalid("body.server_id", f"server {body.server_id!r} does not exist")
    check_policy_reference(found, "policy_id", body.policy_id)
    _name_is_free(found, body.server_id, body.name)
    _login_allowed(server, body.use_server_credentials)
    fields = body.model_dump(exclude={"id", "password"})
    database = Database(
        id=body.id or new_id(body.name), has_password=body.password is not None, **fields
    )
    database = found.repos.databases.create(database)
    if body.password is not None:
        password = body.password.get_secret_value()
        _store_password(found, server, database, password, created=True)
    call.audit(f"databases/{database.id}", after=database)
    return None, database, [effective_policy_id(found, database)]


ENTRA_LOGIN = (
    "the server signs in with Entra ID (its managed identity): its databases use the "
    "server's identity, not logins of their own"
)


def _login_allowed(server: Server, use_server_credentials: bool) -> None:
    if server.auth is ServerAuth.ENTRA and not use_server_credentials:
        raise invalid("body.use_server_credentials", ENTRA_LOGIN)


def _name_is_free(found: Services, server_id: str, name: str) -> None:
    """One record per database of a server: two would mean two backups of everything."""
    for database in found.repos.databases.all_by_server(server_id):
        if database.name == name:
            raise conflict(f"{name!r} is already added as {database.id!r}")


def _store_password(
    found: Services, server: Server, database: Database, password: str, *, created: bool
) -> None:
    """Stored bound to the server's address and TLS mode as read now, with the
    database's own username: if the server moves meanwhile, it does not apply there."""
    binding = database_binding(server, database)
    try:
        store_password(found.secrets, database_secret_name(database.id), password, binding)
    except Exception:
        if created:  # a database without the password it was created with is a trap
            found.repos.databases.delete(database.id)
        raise


def _update(call: Call) -> Change:
    database_id = call.path_id("database_id")
    body: DatabaseUpdate = call.body()
    found = services()
    current = found.repos.databases.get_with_etag(database_id)
    if current is None:
        raise not_found("database", database_id)
    before, etag = current
    check_policy_reference(found, "policy_id", body.policy_id)
    changes = body.model_dump(exclude={"password"}, exclude_unset=True)
    if body.password is not None:
        changes["has_password"] = True
    after = rebuilt(before, changes)
    if after.name != before.name:
        _name_is_free(found, after.server_id, after.name)
    if before.use_server_credentials and not after.use_server_credentials:
        server = found.repos.servers.get(after.server_id)
        if server is not None:
            _login_allowed(server, after.use_server_credentials)
    if after.username != before.username and before.has_password and body.password is None:
        raise invalid("body.password", "required when the username changes: the stored "
                      "password was entered for the old one")  # fmt: skip
    if body.password is not None:
        server = found.repos.servers.get(after.server_id)
        if server is None:
            raise not_found("server", after.server_id)
        password = body.password.get_secret_value()
        _store_password(found, server, after, password, created=False)
    after = found.repos.databases.update(after, etag)
    call.audit(f"databases/{database_id}", before=before, after=after)
    policies = [effective_policy_id(found, before), effective_policy_id(found, after)]
    return before, after, policies


def _delete(call: Call) -> Change:
    database_id = call.path_id("database_id")
    query: DatabaseDeleteQuery = call.query()
    found = services()
    database = database_or_404(found, database_id)
    policy_id = effective_policy_id(found, database)
    details = {"with_backups": query.with_backups}
    call.audit_attempt(f"databases/{database_id}", before=database, details=details)
    removed = remove_database(found, database, with_backups=query.with_backups)
    call.audit(f"databases/{database_id}", before=database, details={"backups_deleted": removed})
    return database, None, [policy_id]


def _switch(call: Call, enabled: bool) -> Change:
    database_id = call.path_id("database_id")
    found = services()
    current = found.repos.databases.get_with_etag(database_id)
    if current is None:
        raise not_found("database", database_id)
    before, etag = current
    after = found.repos.databases.update(before.model_copy(update={"enabled": enabled}), etag)
    call.audit(
        f"databases/{database_id}", before={"enabled": before.enabled}, after={"enabled": enabled}
    )
    return before, after, [effective_policy_id(found, after)]
