"""One readable log line per function start, finish and failure, like the Functions host."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator

log = logging.getLogger("emulator.functions")


@contextlib.contextmanager
def logged_invocation(name: str, reason: str) -> Iterator[str]:
    """Yields the invocation id; logs Executing/Executed around the body."""
    invocation_id = str(uuid.uuid4())
    log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", name, reason, invocation_id)
    started = time.perf_counter()
    try:
        yield invocation_id
    except Exception as exc:
        ms = round((time.perf_counter() - started) * 1000)
        log.exception(
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %s: %s",
            name,
            invocation_id,
            ms,
            type(exc).__name__,
            exc,
        )
        raise
    ms = round((time.perf_counter() - started) * 1000)
    log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", name, invocation_id, ms)
