"""Audit entries: who did what to which resource, with what outcome, never with a secret.

Entries are built here and appended by the audit repository (partitioned by month).
Everything that goes into `details` (before/after images, parameters) passes through
`scrub`, which replaces every field whose name suggests a secret, at any depth, so a model
that grows a secret field later cannot leak it into the log.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from shared.models import AuditEntry
from shared.secret_names import SECRET_FIELD

REDACTED = "[redacted]"
MESSAGE_LIMIT = 500


class AuditOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"


def scrub(value: Any) -> Any:
    """A copy of `value` with every secret-looking field replaced by a marker."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(key): _scrub_field(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _scrub_field(key: str, item: Any) -> Any:
    # A flag such as has_password says whether a secret exists, never what it is.
    if SECRET_FIELD.search(key) and not isinstance(item, bool | None):
        return REDACTED
    return scrub(item)


def audit_entry(
    actor: str,
    action: str,
    resource: str,
    *,
    outcome: AuditOutcome = AuditOutcome.SUCCEEDED,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
    message: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """An entry ready to append; everything in it is scrubbed of secrets first."""
    body: dict[str, Any] = dict(details or {})
    if before is not None:
        body["before"] = before
    if after is not None:
        body["after"] = after
    if message:
        body["message"] = message[:MESSAGE_LIMIT]
    return AuditEntry(
        id=uuid.uuid4().hex,
        at=at or datetime.now(UTC),
        actor=actor[:256],
        action=action,
        resource=resource[:256],
        outcome=outcome.value,
        details=scrub(body),
    )
