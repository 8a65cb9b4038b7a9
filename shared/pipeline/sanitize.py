"""Removes anything that looks like a secret from tool output before it is stored or shown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

_REDACTED = "***"
_PATTERNS = [
    # key=value and key: value forms used by libpq, ODBC and client tools
    re.compile(
        r"(?i)\b(password|passwd|pwd|secret|token|accountkey)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s;&'\"]+)"
    ),
    # SAS signatures in URLs
    re.compile(r"(?i)\b(sig)(=)([^&\s\"']+)"),
    # credentials inside connection URIs: scheme://user:password@host
    re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]+)(:)([^@\s/]+)(?=@)"),
]


def redact(text: str, secret: str) -> str:
    """`text` with each whole occurrence of `secret` replaced by ***: not inside a longer
    word, so that a short password ("x") does not turn "expected" into "e***pected"."""
    if not secret:
        return text
    start = r"(?<!\w)" if _WORD.match(secret[0]) else ""
    end = r"(?!\w)" if _WORD.match(secret[-1]) else ""
    return re.sub(start + re.escape(secret) + end, _REDACTED, text)


_WORD = re.compile(r"\w")


def sanitize(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret value and every password-like pair replaced by ***."""
    for secret in secrets:
        for form in (secret, quote(secret, safe="")):
            text = redact(text, form)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)
    return text


def tail_text(data: bytes, secrets: Iterable[str] = (), limit: int = 2000) -> str:
    """The last `limit` characters of a tool's stderr, decoded and sanitised."""
    text = data.decode("utf-8", errors="replace")
    # Sanitise before cutting so a secret split by the cut cannot survive half-visible.
    return sanitize(text, secrets)[-limit:].strip()
