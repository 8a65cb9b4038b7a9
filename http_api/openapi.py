"""The OpenAPI 3.1 document, generated from the operations table and their pydantic models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import azure.functions as func
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from http_api.errors import json_response
from http_api.ids import INSTANCE_ID
from http_api.operations import Operation, operations, public_route
from http_api.request_guard import MAX_BODY_BYTES
from http_api.schemas.common import ErrorResponse
from http_api.schemas.console import ConsoleConfig
from shared.models import ID_PATTERN

REF = "#/components/schemas/{model}"
PATH_PARAMETER = re.compile(r"{(\w+)}")
ERROR_TEXT = {
    400: "Malformed request (JSON, id, continuation)",
    401: "No valid credentials",
    403: "The caller's role does not allow this",
    404: "No such resource",
    409: "Conflicts with the current state",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes",
    415: "A change not sent as application/json",
    422: "A field is not valid (details name it)",
    429: "Too many connection tests or discoveries at once from this caller",
    503: "Not configured, or a dependency is unavailable",
}
COMMON_ERRORS = (400, 401, 403, 404, 422, 503)


def _component_models() -> list[tuple[type[BaseModel], str]]:
    models: list[tuple[type[BaseModel], str]] = [
        (ErrorResponse, "serialization"),
        (ConsoleConfig, "serialization"),
    ]
    for op in operations():
        if op.body is not None:
            models.append((op.body, "validation"))
        if isinstance(op.response, type) and issubclass(op.response, BaseModel):
            models.append((op.response, "serialization"))
    return list(dict.fromkeys(models))


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {
                "type": "string",
                "pattern": INSTANCE_ID.pattern if name == "instance_id" else ID_PATTERN,
            },
        }
        for name in PATH_PARAMETER.findall(op.path)
    ]


def _query_parameters(op: Operation) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    schema = op.query.model_json_schema(ref_template=REF, by_alias=True)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "title"},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _responses(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if op.status == 204 or op.response is None:
        responses[str(op.status)] = {"description": "Done"}
    else:
        schema = refs[(op.response, "serialization")]
        responses[str(op.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schema}},
        }
    error = {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}
    # Every change may meet a concurrent one (409 changed_meanwhile), and must be JSON (415).
    changing = (409, 413, 415) if op.method != "GET" else ()
    for status in sorted({*COMMON_ERRORS, *op.errors, *changing}):
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": error}
    return responses


def _operation(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_parameters(op) + _query_parameters(op),
        "responses": _responses(op, refs),
        "security": [{"bearer": []}],
        "x-required-role": op.role.claim,
    }
    if op.description:
        document["description"] = op.description
    if op.body is not None:
        document["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    return document


def _health() -> dict[str, Any]:
    ok = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
    return {
        "get": {
            "operationId": "health",
            "summary": "Liveness",
            "tags": ["status"],
            "security": [],
            "responses": {
                "200": {"description": "Alive", "content": {"application/json": {"schema": ok}}}
            },
        }
    }


def _self() -> dict[str, Any]:
    document = {"application/json": {"schema": {"type": "object"}}}
    return {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["status"],
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": document}},
        }
    }


def _console_config(refs: dict[Any, Any]) -> dict[str, Any]:
    schema = refs[(ConsoleConfig, "serialization")]
    return {
        "get": {
            "operationId": "console_config",
            "summary": "Console sign-in settings (public values)",
            "tags": ["status"],
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}}
            },
        }
    }


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    refs, definitions = models_json_schema(_component_models(), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {
        "/health": _health(),
        "/openapi.json": _self(),
        "/console-config": _console_config(refs),
    }
    for op in operations():
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dilux Backup API",
            "version": "1.0.0",
            "description": "Backups of PostgreSQL, MySQL/MariaDB and SQL Server to Azure Blob "
            "Storage. Every route but health and this document (both anonymous) needs a bearer "
            "token with a Backup.* role (none in development mode, on loopback only). Every "
            "change (POST, PUT, PATCH, DELETE) must be sent with Content-Type: application/json, "
            "from the same origin when a browser sends it; bodies are at most "
            f"{MAX_BODY_BYTES} bytes.",
        },
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


@public_route("api/openapi.json", ["GET"])
def api_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi_document())
