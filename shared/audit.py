"""Audit entries: who did what to which resource, with what outcome, never with a secret.

Entries are built here and appended by the audit repository (partitioned by month).
Everything that goes into `details` (before/after images, parameters) passes through
`scrub`, which replaces every field whose name suggests a secret, at any depth, so a model
that grows a secret field later cannot leak it into the log.
"""

from __future__ import annotations

import threading
import unicodedata
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from shared.models import AuditEntry
from shared.secret_names import SECRET_FIELD

REDACTED = "[redacted]"
MESSAGE_LIMIT = 500
ACTOR_LIMIT = 256


class AuditOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    # A destructive action about to act: written first, its outcome follows in an entry of
    # its own, so an action stopped midway (a crash, a lost instance) still leaves a trace.
    ATTEMPTED = "attempted"


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
        actor=printable(actor, ACTOR_LIMIT) or "unknown",
        action=action,
        resource=resource[:256],
        outcome=outcome.value,
        details=scrub(body),
    )


def printable(text: str, limit: int) -> str:
    """`text` on one line: control and format characters (newlines, bidi overrides) become
    spaces, runs of spaces one space, at most `limit` characters. For names taken from a
    token's claims, which the token's holder chose."""
    spaced = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in text)
    return " ".join(spaced.split())[:limit]


@dataclass
class _Window:
    entry: AuditEntry
    attempts: int = 1


class DenialWindows:
    """Refused attempts, aggregated: one audit entry per key (an actor and an action) per window.

    The first refusal of a key is written at once; refusals after it only count; `close`
    (called when the window ends) returns the entry again with the total, to be written over
    the first. A caller with a valid token but no role so grows the audit log by one entry
    per action per window however fast they try, and every attempt is still counted. Past
    `max_open` keys, further actors share one entry per action.
    """

    def __init__(self, seconds: float = 60.0, max_open: int = 10_000) -> None:
        self.seconds = seconds
        self.max_open = max_open
        self._open: dict[Hashable, _Window] = {}
        self._lock = threading.Lock()

    def refused(
        self, actor: str, action: str, entry: Callable[[bool], AuditEntry]
    ) -> tuple[Hashable, AuditEntry] | None:
        """Counts a refusal of `actor` at `action`. For the first one of its window: the
        window's key (pass it to `close` after `seconds`) and the entry to write now, built by
        `entry(shared)` (shared: for several actors, past `max_open`)."""
        key: Hashable = (actor, action)
        with self._lock:
            shared = key not in self._open and len(self._open) >= self.max_open
            if shared:
                key = (None, action)
            window = self._open.get(key)
            if window is not None:
                window.attempts += 1
                return None
            first = entry(shared)
            first = first.model_copy(update={"details": {**first.details, "attempts": 1}})
            self._open[key] = _Window(first)
            return key, first

    def close(self, key: Hashable) -> AuditEntry | None:
        """Ends the window; its entry with the total, or None when nothing followed the first."""
        with self._lock:
            window = self._open.pop(key, None)
        if window is None or window.attempts == 1:
            return None
        details = {**window.entry.details, "attempts": window.attempts}
        return window.entry.model_copy(update={"details": details})


@dataclass
class _ProbeWindow:
    probes: int = 0
    summary: AuditEntry | None = None
    attempts: int = 0
    outcomes: dict[str, int] | None = None
    targets: list[str] | None = None
    left_out: int = 0


@dataclass(frozen=True)
class ProbeNote:
    write: AuditEntry | None  # to append now
    opened: Hashable | None  # a window just opened: pass its key to `close` after `seconds`


class ProbeWindows:
    """Connection tests and discoveries, aggregated past the first few.

    A caller's first `individually` probes of an action in a window are audited one by one
    (which server and address, with what outcome). The rest of the window go into one entry,
    written at the first of them and rewritten when the window closes with the totals: how
    many, each outcome's count and the first `max_targets` addresses tried. A caller probing
    many addresses (a port scan) so grows the audit log by a few entries per window, and
    every probe is still counted. Past `max_open` keys, further actors share a window.
    """

    def __init__(
        self,
        seconds: float = 60.0,
        individually: int = 5,
        max_targets: int = 20,
        max_open: int = 10_000,
    ) -> None:
        self.seconds = seconds
        self.individually = individually
        self.max_targets = max_targets
        self.max_open = max_open
        self._open: dict[Hashable, _ProbeWindow] = {}
        self._lock = threading.Lock()

    def probed(self, actor: str, entry: AuditEntry) -> ProbeNote:
        key: Hashable = (actor, entry.action)
        with self._lock:
            opened = None
            if key not in self._open:
                if len(self._open) >= self.max_open:
                    key = (None, entry.action)
                if key not in self._open:
                    self._open[key] = _ProbeWindow()
                    opened = key
            window = self._open[key]
            window.probes += 1
            if window.probes <= self.individually:
                return ProbeNote(entry, opened)
            window.attempts += 1
            window.outcomes = window.outcomes or {}
            outcome = str(entry.details.get("outcome") or entry.outcome)
            window.outcomes[outcome] = window.outcomes.get(outcome, 0) + 1
            window.targets = window.targets or []
            target = _target(entry)
            if target not in window.targets:
                if len(window.targets) < self.max_targets:
                    window.targets.append(target)
                else:
                    window.left_out += 1
            if window.summary is not None:
                return ProbeNote(None, opened)
            window.summary = entry.model_copy(
                update={
                    "actor": entry.actor if key[0] is not None else "several actors",  # type: ignore[index]
                    "resource": "servers",
                    "details": {"aggregated": True, "message": "more probes in this window"},
                }
            )
            return ProbeNote(self._summary(window), opened)

    def close(self, key: Hashable) -> AuditEntry | None:
        """Ends the window; its summary with the totals, or None when it needed none or
        nothing followed the summary's first write."""
        with self._lock:
            window = self._open.pop(key, None)
        if window is None or window.summary is None or window.attempts == 1:
            return None
        return self._summary(window)

    @staticmethod
    def _summary(window: _ProbeWindow) -> AuditEntry:
        assert window.summary is not None
        failed = any(o not in ("ok", "succeeded") for o in window.outcomes or {})
        details = {
            **window.summary.details,
            "attempts": window.attempts,
            "outcomes": dict(window.outcomes or {}),
            "targets": list(window.targets or []),
            "targets_left_out": window.left_out,
        }
        outcome = AuditOutcome.FAILED if failed else AuditOutcome.SUCCEEDED
        return window.summary.model_copy(update={"details": details, "outcome": outcome.value})


def _target(entry: AuditEntry) -> str:
    host, port = entry.details.get("host"), entry.details.get("port")
    where = f" {host}:{port}" if host is not None else ""
    return f"{entry.resource}{where}"[:300]
