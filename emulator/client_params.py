"""Query parameters of the durable HTTP API, read like the real extension."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from dateutil import parser as date_parser

from emulator.contracts import InvalidRequest
from emulator.history import Status

__all__ = ["bool_param", "date_param", "int_param", "statuses_param"]

RUNTIME_STATUSES = {status.name.lower(): status.name for status in Status}


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    """Booleans arrive as `true` or Python's `True`: compare case-insensitively."""
    value = request.query.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidRequest(f"'{name}' is not a whole number: {value!r}") from exc


def date_param(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        parsed = date_parser.isoparse(value)
    except ValueError as exc:
        raise InvalidRequest(f"'{name}' is not a date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def statuses_param(request: web.Request) -> list[str] | None:
    value = request.query.get("runtimeStatus")
    if not value:
        return None
    names = []
    for part in value.split(","):
        name = RUNTIME_STATUSES.get(part.strip().lower())
        if name is None:
            raise InvalidRequest(f"'{part}' is not a runtime status.")
        names.append(name)
    return names
