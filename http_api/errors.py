"""The one error shape of the API, `{"error": {"code", "message", "details"}}`, and its helpers."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from pydantic import ValidationError


class ApiError(Exception):
    """A refusal the caller can act on; `message` and `details` never hold a secret."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def not_found(kind: str, resource_id: str) -> ApiError:
    return ApiError(404, "not_found", f"{kind} {resource_id!r} does not exist")


def conflict(message: str, details: Any = None) -> ApiError:
    return ApiError(409, "conflict", message, details)


def invalid(field: str, message: str, status: int = 422) -> ApiError:
    return ApiError(status, "invalid", message, [{"field": field, "message": message}])


def validation_error(exc: ValidationError, where: str) -> ApiError:
    """422 naming each field at fault; the rejected values are never echoed (passwords)."""
    details = [
        {
            "field": ".".join([where, *(str(part) for part in item["loc"])]),
            "message": item["msg"],
            "type": item["type"],
        }
        for item in exc.errors(include_input=False, include_url=False, include_context=False)
    ]
    return ApiError(422, "validation_failed", f"the {where} is not valid", details)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    body = None if payload is None else json.dumps(payload, separators=(",", ":"))
    return func.HttpResponse(
        body,
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> func.HttpResponse:
    payload = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return json_response(payload, error.status, headers)
