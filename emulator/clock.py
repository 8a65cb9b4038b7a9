"""Clocks for the emulator: the wall clock, and a virtual clock for tests.

Everything in the emulator that waits for a point in time (durable timers, the host's timer
triggers) sleeps through `Clock.sleep_until`, so a `VirtualClock` can jump straight to the next
deadline as soon as nothing else is runnable. Code doing work that may schedule new deadlines
(an HTTP request, an activity, an orchestration episode) wraps it in `with clock.busy():` so
that time does not jump underneath it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Protocol

# Long real sleeps are cut into slices so that a changed wall clock is noticed.
_MAX_REAL_SLEEP_SECONDS = 60.0
# Loop turns a virtual clock waits, once nothing is busy, before it believes the quiet.
_SETTLE_TURNS = 20


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, UTC, timezone-aware."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Returns once `now() >= when`. Cancellable."""
        ...

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """Marks work in flight: a virtual clock does not move while any is open."""
        ...


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        when = _aware(when)
        while True:
            remaining = (when - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _MAX_REAL_SLEEP_SECONDS))

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        yield


class VirtualClock:
    """Time stands still while anything is busy, then jumps to the earliest pending deadline.

    Must be used from a single event loop. `advance_to`/`advance` move time by hand (tests).
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._busy = 0
        self._advancer: asyncio.Task[None] | None = None

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        when = _aware(when)
        if when <= self._now:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), waiter))
        self._kick()
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._kick()

    def advance_to(self, when: datetime) -> None:
        """Moves time forward (never back) and wakes every sleeper now due."""
        when = _aware(when)
        if when > self._now:
            self._now = when
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _kick(self) -> None:
        if self._advancer is None or self._advancer.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._advancer = loop.create_task(self._advance_when_quiet())

    async def _advance_when_quiet(self) -> None:
        while True:
            for _ in range(_SETTLE_TURNS):
                await asyncio.sleep(0)
            self._drop_cancelled()
            if self._busy or not self._sleepers:
                return
            self.advance_to(self._sleepers[0][0])
