"""Policies: create, list, read, update, delete (refused while in use); three are seeded."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from http_api import bp
from http_api.calls import Call, Reply
from http_api.durable import wake_policy_loops
from http_api.errors import conflict, invalid, not_found, validation_error
from http_api.ids import new_id
from http_api.lookups import ensure_seeded_policies, policy_or_404, rebuilt
from http_api.operations import operation
from http_api.schemas.common import PageQuery
from http_api.schemas.policies import PolicyCreate, PolicyPage, PolicyUpdate
from http_api.services import Services, services
from shared.auth import Role
from shared.models import Policy

PATH = "/policies/{policy_id}"

LIST = operation(
    "GET",
    "/policies",
    Role.READER,
    "List policies",
    tag="policies",
    query=PageQuery,
    response=PolicyPage,
)
GET = operation("GET", PATH, Role.READER, "Get policy", tag="policies", response=Policy)
CREATE = operation(
    "POST",
    "/policies",
    Role.ADMIN,
    "Create policy",
    tag="policies",
    body=PolicyCreate,
    response=Policy,
    status=201,
    action="policy.create",
    errors=(409,),
)
UPDATE = operation(
    "PATCH",
    PATH,
    Role.ADMIN,
    "Update policy",
    tag="policies",
    body=PolicyUpdate,
    response=Policy,
    action="policy.update",
)
DELETE = operation(
    "DELETE", PATH, Role.ADMIN, "Delete policy", tag="policies", status=204,
    action="policy.delete", errors=(409,),
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_policies(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=GET.route, methods=[GET.method])
async def api_get_policy(req: func.HttpRequest) -> func.HttpResponse:
    return await GET.serve(req, _get)


@bp.route(route=CREATE.route, methods=[CREATE.method])
async def api_create_policy(req: func.HttpRequest) -> func.HttpResponse:
    return await CREATE.serve(req, _create)


@bp.route(route=UPDATE.route, methods=[UPDATE.method])
@bp.durable_client_input(client_name="client")
async def api_update_policy(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Policy:
        policy = await asyncio.to_thread(_update, call)
        await wake_policy_loops(client, [policy.id], "policy changed")
        return policy

    return await UPDATE.serve(req, handle)


@bp.route(route=DELETE.route, methods=[DELETE.method])
@bp.durable_client_input(client_name="client")
async def api_delete_policy(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        policy_id = await asyncio.to_thread(_delete, call)
        await wake_policy_loops(client, [policy_id], "policy deleted")
        return Reply(status=204)

    return await DELETE.serve(req, handle)


def _seeded() -> Services:
    found = services()
    ensure_seeded_policies(found)
    return found


def _list(call: Call) -> PolicyPage:
    query = call.query()
    page = _seeded().repos.policies.list(query.page_size, query.continuation)
    return PolicyPage(items=page.items, continuation=page.continuation)


def _get(call: Call) -> Policy:
    return policy_or_404(_seeded(), call.path_id("policy_id"))


def _create(call: Call) -> Policy:
    body: PolicyCreate = call.body()
    found = _seeded()
    data = body.model_dump(exclude={"id"})
    try:
        policy = Policy.model_validate({"id": body.id or new_id(body.name), **data})
    except ValidationError as exc:
        raise validation_error(exc, "body") from None
    _check_drill_server(found, policy)
    policy = found.repos.policies.create(policy)
    call.audit(f"policies/{policy.id}", after=policy)
    return policy


def _update(call: Call) -> Policy:
    policy_id = call.path_id("policy_id")
    body: PolicyUpdate = call.body()
    found = _seeded()
    current = found.repos.policies.get_with_etag(policy_id)
    if current is None:
        raise not_found("policy", policy_id)
    before, etag = current
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "description", "timezone"):
        if required in changes and changes[required] is None:
            del changes[required]  # null means "leave as is" for fields a policy must have
    after = rebuilt(before, changes)
    _check_drill_server(found, after)
    after = found.repos.policies.update(after, etag)
    call.audit(f"policies/{policy_id}", before=before, after=after)
    return after


def _check_drill_server(found: Services, policy: Policy) -> None:
    """A drill server named must exist (its engine is matched per database, at each drill)."""
    server_id = policy.drill.server_id if policy.drill else None
    if server_id is not None and found.repos.servers.get(server_id) is None:
        raise invalid("body.drill.server_id", f"server {server_id!r} does not exist")


def _users(found: Services, policy_id: str) -> list[str]:
    databases = found.repos.databases.list_by_policy(policy_id, page_size=20).items
    servers = [s for s in found.repos.servers.all() if s.default_policy_id == policy_id]
    return [f"databases/{d.id}" for d in databases] + [f"servers/{s.id}" for s in servers[:20]]


def _delete(call: Call) -> str:
    policy_id = call.path_id("policy_id")
    found = _seeded()
    policy = policy_or_404(found, policy_id)
    users = _users(found, policy_id)
    if users:
        raise conflict("the policy is in use", {"used_by": users})
    found.repos.policies.delete(policy_id)
    call.audit(f"policies/{policy_id}", before=policy)
    return policy_id
