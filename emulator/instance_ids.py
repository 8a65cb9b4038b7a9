"""Orchestration instance ids: generated and validated like the extension's `DurableClient`."""

from __future__ import annotations

import uuid

from emulator.contracts import InstanceAlreadyExists, InvalidRequest
from emulator.history import TERMINAL_STATUSES

MAX_INSTANCE_ID_LENGTH = 256
_FORBIDDEN_ID_CHARS = frozenset("/\\#?")


def new_instance_id() -> str:
    """A GUID in .NET's "N" format, as the extension generates."""
    return uuid.uuid4().hex


def validate_instance_id(instance_id: str) -> None:
    """The rules of DurableClient.StartNewAsync; raises InvalidRequest."""
    if not instance_id:
        raise InvalidRequest("Instance ID must not be empty.")
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidRequest(
            f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters."
        )
    if instance_id.startswith("@"):
        raise InvalidRequest(f"Orchestration instance ids must not start with @: {instance_id}")
    if has_forbidden_characters(instance_id):
        raise InvalidRequest(
            f"Instance ID must not contain /, \\, #, ? or control characters: {instance_id!r}"
        )


def has_forbidden_characters(instance_id: str) -> bool:
    """/, \\, #, ? or a control character (.NET's `char.IsControl`: C0, DEL and C1)."""
    return any(c in _FORBIDDEN_ID_CHARS or ord(c) < 32 or 127 <= ord(c) <= 159 for c in instance_id)


def ensure_replaceable(existing_status: str | None) -> None:
    """An id may be reused only once its instance has finished (the extension's default
    `OverridableExistingInstanceStates`); raises InstanceAlreadyExists (HTTP 500 on Azure)."""
    if existing_status is not None and existing_status not in TERMINAL_STATUSES:
        raise InstanceAlreadyExists(
            f"An Orchestration instance with the status {existing_status} already exists."
        )
