"""Liveness probe: anonymous, and it says nothing about the deployment."""

import json

import azure.functions as func

from http_api.operations import public_route


@public_route("api/health", ["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"status": "ok"}), status_code=200, mimetype="application/json"
    )
