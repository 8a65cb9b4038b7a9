"""What a handler receives (`Call`) and may return (`Reply`): parsed input, the caller, audit."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import azure.functions as func
from pydantic import ValidationError

from http_api.errors import ApiError, validation_error
from shared.audit import AuditOutcome, audit_entry
from shared.auth import Principal
from shared.models import ID_PATTERN, AuditEntry

if TYPE_CHECKING:
    from http_api.operations import Operation

log = logging.getLogger(__name__)

_ID = re.compile(ID_PATTERN)
# `code` carried the function key (no longer needed): clients that still send it are not refused.
_PLATFORM_QUERY = {"code"}


@dataclass
class Reply:
    payload: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    req: func.HttpRequest
    principal: Principal
    operation: Operation
    audited: bool = False
    attempted: bool = False  # an `attempted` entry is written; the outcome is still due

    def path_id(self, name: str) -> str:
        """A path parameter that must be one of our ids; 400 otherwise."""
        value = self.req.route_params.get(name, "")
        if not _ID.match(value):
            raise ApiError(
                400,
                "invalid_id",
                f"{name} must be lower-case letters, digits and '-'",
                [{"field": f"path.{name}", "message": "not a valid id"}],
            )
        return value

    def body(self) -> Any:
        model = self.operation.body
        assert model is not None, "operation declares no body"
        try:
            return model.model_validate(self._json())
        except ValidationError as exc:
            raise validation_error(exc, "body") from None

    def query(self) -> Any:
        model = self.operation.query
        assert model is not None, "operation declares no query"
        values = {k: v for k, v in self.req.params.items() if k not in _PLATFORM_QUERY}
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise validation_error(exc, "query") from None

    def _json(self) -> Any:
        raw = self.req.get_body() or b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
        except RecursionError:
            raise ApiError(400, "invalid_json", "the body is nested too deeply") from None

    def resource(self) -> str:
        """The request path below the route prefix, e.g. `servers/prod-pg/test`."""
        path = urlsplit(self.req.url).path.strip("/")
        return path.split("/", 1)[1] if path.startswith("api/") else path

    def audit_entry(
        self,
        resource: str | None = None,
        *,
        before: Any = None,
        after: Any = None,
        details: dict[str, Any] | None = None,
        outcome: AuditOutcome = AuditOutcome.SUCCEEDED,
        message: str | None = None,
        actor: str | None = None,
    ) -> AuditEntry:
        """The audit record of this call's action (by default, its caller on its resource)."""
        action = self.operation.action
        assert action is not None, "operation is not audited"
        return audit_entry(
            actor or self.principal.actor,
            action,
            resource or self.resource(),
            outcome=outcome,
            before=before,
            after=after,
            details=details,
            message=message,
        )

    def audit_attempt(
        self,
        resource: str | None = None,
        *,
        before: Any = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """For destructive actions, before acting: an `attempted` entry, so that an action
        stopped midway leaves a trace. Its outcome follows as an entry of its own: the
        action's `audit` when it succeeds, the operation's failure audit otherwise (a 500
        included). If this entry cannot be written, the action does not start."""
        self.audit(resource, before=before, details=details, outcome=AuditOutcome.ATTEMPTED)
        self.audited = False
        self.attempted = True

    def audit(
        self,
        resource: str | None = None,
        *,
        before: Any = None,
        after: Any = None,
        details: dict[str, Any] | None = None,
        outcome: AuditOutcome = AuditOutcome.SUCCEEDED,
        message: str | None = None,
    ) -> None:
        """Appends the audit record of this call's action (blocking; call from a thread)."""
        from http_api.services import services

        entry = self.audit_entry(
            resource, before=before, after=after, details=details, outcome=outcome, message=message
        )
        self.audited = True
        try:
            services().append_audit(entry)
        except Exception as exc:
            failure = type(exc).__name__
            log.error("audit record for %s could not be written: %s", entry.action, failure)
            raise
