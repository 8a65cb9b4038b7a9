"""Helpers every engine shares: database name checks, private files, secret scrubbing."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from shared.engines.base import (
    ConnectionErrorKind,
    ConnectionResult,
    ConnectionSpec,
    DiscoveredDatabase,
    EngineError,
)
from shared.models import DATABASE_NAME_PATTERN
from shared.pipeline.sanitize import redact

_DATABASE_NAME = re.compile(DATABASE_NAME_PATTERN)


def require_database_name(name: str) -> str:
    """The name itself, if it is one we accept. Names never start with '-' and hold no
    quote, semicolon, slash or '=' (see DATABASE_NAME_PATTERN), so no client tool can
    read one as an option or a connection string."""
    if not _DATABASE_NAME.fullmatch(name):
        raise EngineError(
            ConnectionErrorKind.INVALID_REQUEST,
            "invalid database name: use letters, digits, '_', '$', '.', '-' or spaces, "
            "starting with a letter, digit or '_' (at most 128 characters)",
        )
    return name


def plain_host(spec: ConnectionSpec) -> str:
    """The host as drivers and tools take it: an IPv6 literal without its brackets."""
    host = spec.host
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def scrub(message: str, spec: ConnectionSpec) -> str:
    """`message` with the spec's password removed, wherever a driver might echo it:
    as given, and as written into an ODBC connection string, option file or pgpass."""
    for form in _written_forms(spec.password.get_secret_value()):
        message = redact(message, form)
    return message.strip()


def _written_forms(password: str) -> list[str]:
    """The password and its escaped forms, longest first (an escaped form contains the
    raw one's pieces, so it must go before them)."""
    if not password:
        return []
    forms = {
        password,
        password.replace("}", "}}"),  # ODBC braces
        password.replace("\\", "\\\\").replace('"', '\\"'),  # option files
        password.replace("\\", "\\\\").replace(":", "\\:"),  # pgpass
    }
    return sorted(forms, key=len, reverse=True)


def timed_connection_test(
    server_version: Callable[[ConnectionSpec], str], spec: ConnectionSpec
) -> ConnectionResult:
    """Every engine's test_connection: ask the version, time it, turn failure into a result."""
    started = time.monotonic()
    try:
        version = server_version(spec)
    except EngineError as error:
        return ConnectionResult(ok=False, error_kind=error.kind, message=error.message)
    latency = (time.monotonic() - started) * 1000
    return ConnectionResult(ok=True, server_version=version, latency_ms=latency)


def engine_error(kind: ConnectionErrorKind, detail: object, spec: ConnectionSpec) -> EngineError:
    return EngineError(kind, scrub(str(detail), spec) or kind.value)


@contextmanager
def private_file(workdir: Path, prefix: str, content: str) -> Iterator[Path]:
    """A file only this user can read, under a new random name in `workdir` (never an
    existing file), removed when the context closes, even on error."""
    path = workdir / f".{prefix}-{secrets.token_hex(8)}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        yield path
    finally:
        with suppress(FileNotFoundError):
            path.unlink()


def reject_line_breaks(value: str, what: str) -> str:
    """Password and option files are line based: a line break would end the value."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise EngineError(
            ConnectionErrorKind.INVALID_REQUEST, f"{what} must not contain line breaks"
        )
    return value


def discovered(
    rows: Iterable[tuple[str, Any]], system_names: frozenset[str]
) -> list[DiscoveredDatabase]:
    """(name, size or None) rows as discovered databases; system names match in any case
    (MySQL and SQL Server compare database names case-insensitively on many servers)."""
    return [
        DiscoveredDatabase(
            name=name,
            is_system=name.lower() in system_names,
            size_bytes=None if size is None else int(size),
        )
        for name, size in rows
    ]
