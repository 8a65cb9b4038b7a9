"""Connection tests and discovery ("probes") run apart from everything else.

A probe may wait for a silent host until its connect timeout. Run on the shared thread
pool, a dozen of them would stall every other route; here they have a small pool of
their own, each caller may run only a few at once (429 beyond), and their connect
timeout is short. What a probe returns is one of a few fixed outcomes, never the
server's or the driver's own text: the API must not be a port scanner that echoes
banners or tells roles apart.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from http_api.errors import ApiError

WORKERS = 4
PER_CALLER = 2
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


async def run_probe(caller: str, work: Callable[[], T]) -> T:
    """Runs `work` on the probes' own pool, within the caller's share."""
    with _slots.slot(caller):
        return await asyncio.get_running_loop().run_in_executor(_pool, work)
