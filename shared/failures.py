"""Is a failure worth another attempt? Permission and schema errors are not: a role without
privileges, a dropped table, an unknown database or a wrong password fail the same way a
minute later, so retrying them only delays the failure and its notification. Anything
that may heal by itself (a refused or dropped connection, a timeout, storage answering
5xx) is retried, and so is anything not recognised: a needless retry costs a minute, a
missed one costs a backup.

Pure functions of a failure's reason and (sanitised) message, so they are easy to test.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Retry(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"


# Reasons the pipeline and the engines give (BackupFailed.reason, ConnectionErrorKind).
_PERMANENT_REASONS = frozenset(
    {
        "auth_failed",
        "database_missing",
        "invalid_request",
        "not_supported",
        "tool_missing",
        "tool",  # the dump tool cannot be started
        "tls",
        "cancelled",
    }
)
_TRANSIENT_REASONS = frozenset({"storage", "timeout", "unreachable", "killed"})

# What the servers and their tools say when the failure will not heal (lower-cased).
_PERMANENT_TEXT = re.compile(
    "|".join(
        (
            r"permission denied",  # PostgreSQL: table, schema, sequence, function, database
            r"must be (?:the )?owner of",
            r"must be superuser",
            r"insufficient privilege",
            r"relation \S+ does not exist",
            r"(?:table|schema|database|role|column|function|type) \S+ does not exist",
            r"authentication failed",  # PostgreSQL password and SASL authentication
            r"no pg_hba\.conf entry",
            r"server version mismatch",  # pg_dump older than the server
            r"access denied for user",  # MariaDB/MySQL 1044, 1045, 1227
            r"command denied to user",  # MariaDB/MySQL 1142, 1143
            r"unknown database",  # MariaDB/MySQL 1049
            r"table \S+ doesn't exist",  # MariaDB/MySQL 1146
            r"unknown table",
            r"couldn't execute .*: access denied",
            r"login failed for user",  # SQL Server 18456
            r"cannot open database",  # SQL Server 4060
            r"permission was denied",  # SQL Server 229, 262
        )
    )
)
# Signs of a passing problem, checked first: they win over the words above.
_TRANSIENT_TEXT = re.compile(
    "|".join(
        (
            r"connection refused",
            r"timed? ?out",
            r"could not connect",
            r"server closed the connection",
            r"connection reset",
            r"broken pipe",
            r"lost connection",
            r"gone away",
            r"too many (?:connections|clients)",
            r"the database system is (?:starting up|shutting down|in recovery)",
            r"could not serialize access",
            r"deadlock",
            r"temporarily unavailable",
            r"try again",
            r"server busy",
            r"service unavailable",
            r"internal server error",
            r"bad gateway",
        )
    )
)


def classify_failure(reason: str | None, message: str | None) -> Retry:
    """PERMANENT when another attempt cannot succeed, else TRANSIENT."""
    if reason in _PERMANENT_REASONS:
        return Retry.PERMANENT
    if reason in _TRANSIENT_REASONS:
        return Retry.TRANSIENT
    text = (message or "").lower()
    if _TRANSIENT_TEXT.search(text):
        return Retry.TRANSIENT
    if _PERMANENT_TEXT.search(text):
        return Retry.PERMANENT
    return Retry.TRANSIENT


def is_permanent(reason: str | None, message: str | None) -> bool:
    return classify_failure(reason, message) is Retry.PERMANENT
