"""Servers: create, list, read, update, delete (refused while databases use it)."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func
from pydantic import Field

from http_api import bp
from http_api.calls import Call, Reply
from http_api.durable import wake_policy_loops
from http_api.errors import conflict, invalid, not_found
from http_api.ids import new_id
from http_api.lookups import check_policy_reference, rebuilt, server_or_404
from http_api.operations import operation
from http_api.removal import remove_database
from http_api.schemas.common import PageQuery, Query
from http_api.schemas.servers import ServerCreate, ServerPage, ServerUpdate
from http_api.services import Services, services
from shared.auth import Role
from shared.credentials import bind_unbound, database_binding, server_binding, store_password
from shared.models import Database, Server, ServerAuth, TlsMode, default_tls_mode
from shared.secrets import database_secret_name, server_secret_name

PATH = "/servers/{server_id}"


class ServerDeleteQuery(Query):
    cascade: bool = Field(default=False, description="also delete its databases")
    with_backups: bool = Field(default=False, description="with cascade: and their backups")


LIST = operation(
    "GET",
    "/servers",
    Role.READER,
    "List servers",
    tag="servers",
    query=PageQuery,
    response=ServerPage,
)
GET = operation("GET", PATH, Role.READER, "Get server", tag="servers", response=Server)
CREATE = operation(
    "POST",
    "/servers",
    Role.ADMIN,
    "Create server",
    tag="servers",
    body=ServerCreate,
    response=Server,
    status=201,
    action="server.create",
    errors=(409,),
)
UPDATE = operation(
    "PATCH",
    PATH,
    Role.ADMIN,
    "Update server",
    tag="servers",
    body=ServerUpdate,
    response=Server,
    action="server.update",
)
DELETE = operation(
    "DELETE", PATH, Role.ADMIN, "Delete server", tag="servers", query=ServerDeleteQuery,
    status=204, action="server.delete", errors=(409,),
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_servers(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=GET.route, methods=[GET.method])
async def api_get_server(req: func.HttpRequest) -> func.HttpResponse:
    return await GET.serve(req, lambda call: server_or_404(services(), call.path_id("server_id")))


@bp.route(route=CREATE.route, methods=[CREATE.method])
async def api_create_server(req: func.HttpRequest) -> func.HttpResponse:
    return await CREATE.serve(req, _create)


@bp.route(route=UPDATE.route, methods=[UPDATE.method])
@bp.durable_client_input(client_name="client")
async def api_update_server(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Server:
        before, after = await asyncio.to_thread(_update, call)
        if before.default_policy_id != after.default_policy_id:
            ids = [before.default_policy_id, after.default_policy_id]
            await wake_policy_loops(client, ids, "server default policy changed")
        return after

    return await UPDATE.serve(req, handle)


@bp.route(route=DELETE.route, methods=[DELETE.method])
@bp.durable_client_input(client_name="client")
async def api_delete_server(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        policy_ids = await asyncio.to_thread(_delete, call)
        await wake_policy_loops(client, policy_ids, "server deleted")
        return Reply(status=204)

    return await DELETE.serve(req, handle)


def _list(call: Call) -> ServerPage:
    query = call.query()
    page = services().repos.servers.list(query.page_size, query.continuation)
    return ServerPage(items=page.items, continuation=page.continuation)


def _create(call: Call) -> Server:
    body: ServerCreate = call.body()
    found = services()
    check_policy_reference(found, "default_policy_id", body.default_policy_id)
    fields = body.model_dump(exclude={"id", "password", "tls_mode"})
    entra = body.auth is ServerAuth.ENTRA
    server = Server(
        id=body.id or new_id(body.name),
        has_password=body.password is not None,
        tls_mode=body.tls_mode or (TlsMode.VERIFY_FULL if entra else default_tls_mode(body.host)),
        **fields,
    )
    # The record first: if the id is taken, no existing server's secret gets overwritten.
    server = found.repos.servers.create(server)
    if body.password is not None:
        _store_secret(found, server, body.password.get_secret_value())
    call.audit(f"servers/{server.id}", after=server)
    return server


def _store_secret(found: Services, server: Server, password: str) -> None:
    try:
        store_password(
            found.secrets, server_secret_name(server.id), password, server_binding(server)
        )
    except Exception:
        found.repos.servers.delete(server.id)
        raise


def _update(call: Call) -> tuple[Server, Server]:
    server_id = call.path_id("server_id")
    body: ServerUpdate = call.body()
    found = services()
    current = found.repos.servers.get_with_etag(server_id)
    if current is None:
        raise not_found("server", server_id)
    before, etag = current
    check_policy_reference(found, "default_policy_id", body.default_policy_id)
    if before.has_password:
        # A password stored before bindings existed counts as entered for wherever the row
        # points. Bound now to where it is in use, so that nothing this update writes back
        # (the rollback in _commit) can pair it with an address a concurrent move commits.
        bind_unbound(found.secrets, server_secret_name(server_id), server_binding(before))
    changes = body.model_dump(exclude={"password"}, exclude_unset=True)
    if body.password is not None:
        changes["has_password"] = True
    entra = changes.get("auth", before.auth) is ServerAuth.ENTRA
    if entra and body.password is None:
        changes["has_password"] = False  # the identity signs in; the password goes
    after = rebuilt(before, changes)
    if entra and before.auth is not ServerAuth.ENTRA:
        _no_own_logins(found, server_id)
    old, new = server_binding(before), server_binding(after)
    if not old.admits(new) and before.has_password and body.password is None and not entra:
        # A stored password is never sent to another address, user or weaker TLS: a
        # stolen admin token must not be able to redirect it to its own host.
        raise invalid("body.password", ENTER_IT_AGAIN)
    # Databases with passwords of their own share the server's address and TLS mode.
    moved = not old.admits(new.with_username(old.username))
    if old != new:
        _bind_database_passwords(found, before)
    after = _commit(found, after, etag, body)
    if before.has_password and not after.has_password:
        found.secrets.delete(server_secret_name(server_id))
    forgotten = _forget_database_passwords(found, server_id) if moved else []
    details = {"databases_logins_cleared": forgotten} if forgotten else None
    call.audit(f"servers/{server_id}", before=before, after=after, details=details)
    return before, after


def _no_own_logins(found: Services, server_id: str) -> None:
    """A server signing in with Entra ID has no logins of its databases' own to offer."""
    databases = found.repos.databases.all_by_server(server_id)
    own = [d.id for d in databases if not d.use_server_credentials]
    if own:
        message = f"databases {', '.join(own[:20])} use logins of their own: switch them first"
        raise invalid("body.auth", message)


ENTER_IT_AGAIN = (
    "required when the host, port or username changes or tls_mode is lowered: the stored "
    "password was entered for the old ones"
)


def _commit(found: Services, after: Server, etag: str, body: ServerUpdate) -> Server:
    """Stores the new password (bound to the new address) and the row; if the row cannot
    be written, the previous password is put back."""
    if body.password is None:
        return found.repos.servers.update(after, etag)
    name = server_secret_name(after.id)
    previous = found.secrets.get(name)
    store_password(found.secrets, name, body.password.get_secret_value(), server_binding(after))
    try:
        return found.repos.servers.update(after, etag)
    except Exception:
        if previous is None:
            found.secrets.delete(name)
        else:
            found.secrets.set(name, previous)
        raise


def _own_passwords(found: Services, server_id: str) -> list[Database]:
    return [
        database
        for database in found.repos.databases.all_by_server(server_id)
        if not database.use_server_credentials and database.has_password
    ]


def _bind_database_passwords(found: Services, server: Server) -> None:
    """Passwords stored before bindings existed get bound to the address they were
    entered for, before the address changes (see shared/secrets/binding.py)."""
    for database in _own_passwords(found, server.id):
        binding = database_binding(server, database)
        bind_unbound(found.secrets, database_secret_name(database.id), binding)


def _forget_database_passwords(found: Services, server_id: str) -> list[str]:
    """Passwords of databases with credentials of their own were entered for the old
    address: they no longer apply (their binding already refuses the new address), so
    a move deletes them; they are set again afterwards."""
    forgotten = []
    for database in _own_passwords(found, server_id):
        found.secrets.delete(database_secret_name(database.id))
        found.repos.databases.upsert(database.model_copy(update={"has_password": False}))
        forgotten.append(database.id)
    return forgotten


def _delete(call: Call) -> list[str | None]:
    server_id = call.path_id("server_id")
    query: ServerDeleteQuery = call.query()
    found = services()
    server = server_or_404(found, server_id)
    databases = list(found.repos.databases.all_by_server(server_id))
    if databases and not query.cascade:
        names = [database.id for database in databases[:20]]
        raise conflict(f"{len(databases)} database(s) use this server", {"databases": names})
    planned = {"databases_deleted": [d.id for d in databases], "with_backups": query.with_backups}
    call.audit_attempt(f"servers/{server_id}", before=server, details=planned)
    for database in databases:
        remove_database(found, database, with_backups=query.with_backups)
    found.secrets.delete(server_secret_name(server_id))
    found.repos.servers.delete(server_id)
    call.audit(f"servers/{server_id}", before=server, details=planned)
    return [server.default_policy_id, *(database.policy_id for database in databases)]
