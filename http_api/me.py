"""`GET /api/me`: who the caller is and which role they hold, so the console shows only
the actions they may take (the API still checks every one)."""

from __future__ import annotations

import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.operations import operation
from http_api.schemas.console import Caller
from shared.auth import Role, authenticator

ME = operation("GET", "/me", Role.READER, "Get caller", tag="status", response=Caller)


@bp.route(route=ME.route, methods=[ME.method])
async def api_get_caller(req: func.HttpRequest) -> func.HttpResponse:
    return await ME.serve(req, _me)


def _me(call: Call) -> Caller:
    principal = call.principal
    return Caller(
        subject=principal.subject,
        name=principal.name,
        role=principal.role.claim if principal.role else None,
        auth_mode=authenticator().config.mode,
    )
