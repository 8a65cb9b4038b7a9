"""The audit log, newest first, with filters (admins only)."""

from __future__ import annotations

import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.operations import operation
from http_api.schemas.backups import AuditPage, AuditQuery
from http_api.services import services
from shared.auth import Role

LIST = operation(
    "GET", "/audit", Role.ADMIN, "List audit entries", tag="audit",
    query=AuditQuery, response=AuditPage,
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_audit(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


def _list(call: Call) -> AuditPage:
    query: AuditQuery = call.query()
    page = services().repos.audit.list(
        query.page_size, query.continuation, actor=query.actor, action=query.action,
        resource=query.resource, since=query.since, until=query.until,
    )  # fmt: skip
    return AuditPage(items=page.items, continuation=page.continuation)
