"""Query parameters and instance ids of the durable HTTP API, read like the real extension."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web
from dateutil import parser as date_parser

from emulator.contracts import InvalidRequest

MAX_INSTANCE_ID_LENGTH = 256
_FORBIDDEN_ID_CHARS = set("/\\#?")
RUNTIME_STATUSES = {
    "running": "Running",
    "completed": "Completed",
    "continuedasnew": "ContinuedAsNew",
    "failed": "Failed",
    "canceled": "Canceled",
    "terminated": "Terminated",
    "pending": "Pending",
    "suspended": "Suspended",
}


def new_instance_id() -> str:
    """A GUID in .NET's "N" format, as the extension generates."""
    return uuid.uuid4().hex


def validate_instance_id(instance_id: str) -> None:
    """The rules of DurableClient.StartNewAsync."""
    if not instance_id:
        raise InvalidRequest("Instance ID must not be empty.")
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidRequest(
            f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters."
        )
    if instance_id.startswith("@"):
        raise InvalidRequest(f"Orchestration instance ids must not start with @: {instance_id}")
    bad = [c for c in instance_id if c in _FORBIDDEN_ID_CHARS or ord(c) < 32 or ord(c) == 127]
    if bad:
        raise InvalidRequest(
            f"Instance ID must not contain /, \\, #, ? or control characters: {instance_id!r}"
        )


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    """Booleans arrive as `true` or Python's `True`: compare case-insensitively."""
    value = request.query.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


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
