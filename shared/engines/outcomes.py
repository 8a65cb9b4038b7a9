"""The few outcomes of a connection, as shown to callers: never the server's own words.

A driver's or server's text can echo a banner, tell roles apart or name the caller's
address; these fixed outcomes and sentences are all that connection tests, discovery
and (for callers below the admin role) failed backups show of a failure.
"""

from __future__ import annotations

from enum import StrEnum

from shared.engines.base import ConnectionErrorKind


class Outcome(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    AUTHENTICATION_FAILED = "authentication_failed"
    TLS_REQUIRED = "tls_required"
    OTHER = "other"


MESSAGES = {
    Outcome.OK: "connected",
    Outcome.UNREACHABLE: "the server could not be reached",
    Outcome.TIMEOUT: "the server did not answer in time",
    Outcome.AUTHENTICATION_FAILED: "the server refused these credentials",
    Outcome.TLS_REQUIRED: "TLS could not be set up as the TLS mode requires "
    "(no TLS offered, TLS demanded, or a certificate that failed verification)",
    Outcome.OTHER: "the connection failed",
}
_OUTCOMES = {
    ConnectionErrorKind.UNREACHABLE: Outcome.UNREACHABLE,
    ConnectionErrorKind.TIMEOUT: Outcome.TIMEOUT,
    ConnectionErrorKind.AUTH_FAILED: Outcome.AUTHENTICATION_FAILED,
    ConnectionErrorKind.TLS: Outcome.TLS_REQUIRED,
}


def outcome_of(kind: ConnectionErrorKind | None) -> Outcome:
    """The fixed outcome for a failure kind (None: no failure)."""
    return Outcome.OK if kind is None else _OUTCOMES.get(kind, Outcome.OTHER)
