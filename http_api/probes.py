"""Connection tests and discovery ("probes") run apart from everything else.

A probe may wait for a silent host until its connect timeout. Run on the shared thread
pool, a dozen of them would stall every other route; here they have a small pool of
their own, each caller may run only a few at once (429 beyond), and their connect
timeout is short. What a probe returns is one of a few fixed outcomes, never the
server's or the driver's own text: the API must not be a port scanner that echoes
banners or tells roles apart.

Nor a fast one: each caller may start at most PER_MINUTE probes a minute (429 beyond; a
closed port answers at once, so the cap on probes at once alone does not bound the rate).
And a caller probing many addresses does not flood the audit log: past the first few
probes of a window, they are counted into one entry (shared.audit.ProbeWindows).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from http_api.calls import Call
from http_api.errors import ApiError
from shared.audit import AuditOutcome, ProbeWindows
from shared.models import AuditEntry

log = logging.getLogger(__name__)

WORKERS = 4
PER_CALLER = 2
PER_MINUTE = 30
CONNECT_TIMEOUT_SECONDS = 5.0

_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="probe")
T = TypeVar("T")


def probe_timeout(configured: float) -> float:
    return min(configured, CONNECT_TIMEOUT_SECONDS)


class _CallerSlots:
    """At most PER_CALLER probes at once per caller, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}

    @contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        with self._lock:
            if self._running.get(caller, 0) >= PER_CALLER:
                raise ApiError(
                    429,
                    "too_many_probes",
                    f"at most {PER_CALLER} connection tests or discoveries at once per caller; "
                    "retry when one has finished",
                )
            self._running[caller] = self._running.get(caller, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[caller] -= 1
                if not self._running[caller]:
                    del self._running[caller]


_slots = _CallerSlots()


class ProbeRate:
    """At most `per_window` probes started per caller in any `seconds`, in this process."""

    def __init__(self, per_window: int = PER_MINUTE, seconds: float = 60.0) -> None:
        self.per_window = per_window
        self.seconds = seconds
        self._lock = threading.Lock()
        self._started: dict[str, deque[float]] = {}

    def admit(self, caller: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._started) > 10_000:  # forget callers quiet for a whole window
                quiet = [c for c, times in self._started.items() if now - times[-1] > self.seconds]
                for gone in quiet:
                    del self._started[gone]
            times = self._started.setdefault(caller, deque())
            while times and now - times[0] > self.seconds:
                times.popleft()
            if len(times) >= self.per_window:
                raise ApiError(
                    429,
                    "too_many_probes",
                    f"at most {self.per_window} connection tests or discoveries a minute per "
                    "caller; retry in a minute",
                )
            times.append(now)


_CLOSING: set[asyncio.Task[None]] = set()


async def run_probe(call: Call, work: Callable[[], tuple[T, AuditEntry]]) -> T:
    """Runs `work` on the probes' own pool, within the caller's share and rate, and audits
    it (`work` returns its result and its audit entry; a refusal is audited here), past
    the first few of a window in one entry."""
    from http_api.services import services

    found = services()
    try:
        with _slots.slot(call.principal.subject):
            found.probe_rate.admit(call.principal.subject)
            result, entry = await asyncio.get_running_loop().run_in_executor(_pool, work)
    except ApiError as error:
        message = f"{error.status} {error.code}: {error.message}"
        entry = call.audit_entry(outcome=AuditOutcome.FAILED, message=message)
        call.audited = True  # not again, one by one, by the operation's failure audit
        await _audit(found.probe_audit, found.repos.audit, call.principal.subject, entry)
        raise
    await _audit(found.probe_audit, found.repos.audit, call.principal.subject, entry)
    return result


async def _audit(windows: ProbeWindows, audit: object, caller: str, entry: AuditEntry) -> None:
    note = windows.probed(caller, entry)
    if note.opened is not None:
        _close_later(windows, audit, note.opened)
    if note.write is not None:
        await asyncio.to_thread(_write, audit.append, note.write)  # type: ignore[attr-defined]


def _close_later(windows: ProbeWindows, audit: object, key: Hashable) -> None:
    def close() -> None:
        total = windows.close(key)
        if total is not None:
            replace = audit.replace  # type: ignore[attr-defined]
            task = asyncio.ensure_future(asyncio.to_thread(_write, replace, total))
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)

    asyncio.get_running_loop().call_later(windows.seconds, close)


def _write(write: Callable[[AuditEntry], object], entry: AuditEntry) -> None:
    try:
        write(entry)
    except Exception as exc:
        # The probe's answer is what the caller must see; the failure is logged.
        log.error("probe at %s not audited: %s", entry.action, type(exc).__name__)
