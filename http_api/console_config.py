"""`GET /api/console-config`: anonymous, so that the console can learn how to sign in before
anyone is signed in. It holds public values only (tenant, client id, scopes)."""

from __future__ import annotations

import azure.functions as func

from http_api.errors import json_response
from http_api.operations import public_route
from http_api.schemas.console import ConsoleConfig
from shared.auth import AuthConfig, authenticator

ROUTE = "api/console-config"


def console_config(config: AuthConfig) -> ConsoleConfig:
    if config.mode == "development":
        return ConsoleConfig(auth_mode="development", sign_in_ready=False)
    if config.mode != "entra" or not config.entra_ready:
        return ConsoleConfig(auth_mode="unconfigured", sign_in_ready=False)
    client_id = config.entra_console_client_id.strip() or None
    return ConsoleConfig(
        auth_mode="entra",
        sign_in_ready=client_id is not None,
        tenant_id=config.entra_tenant_id.strip(),
        client_id=client_id,
        authority=config.authority,
        scopes=config.api_scopes,
    )


@public_route(ROUTE, ["GET"])
def api_console_config(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(console_config(authenticator().config).model_dump(mode="json"))
