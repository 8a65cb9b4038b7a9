"""What the runtime has to do, and whether it has anything to do.

`Work` holds the dispatcher's ready set (instances and entities with messages to handle), the
activity queue, the count of pending work that idleness and the virtual clock follow (pending
work holds `clock.busy()`, so a virtual clock only jumps when nothing is runnable), and the
signals that something changed (an instance's state, the set of durable timers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from emulator.clock import Clock
from emulator.store import ActivityRow

# What a transaction schedules for after its commit (marking targets ready, waking the timer
# loop): run only once the writes are durable.
PostCommit = list[Callable[[], None]]


class Work:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.ready: dict[str, None] = {}
        self.ready_event = asyncio.Event()
        self.activities: asyncio.Queue[ActivityRow] = asyncio.Queue()
        self.activities_running = 0
        self.timers_changed = asyncio.Event()
        self._changed = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self._pending = 0
        self._busy_token: contextlib.AbstractContextManager[None] | None = None

    # --- pending-work accounting (idle detection and the virtual clock) ------------------

    def started(self) -> None:
        self._pending += 1
        if self._pending == 1:
            self.idle.clear()
            self._busy_token = self._clock.busy()
            self._busy_token.__enter__()

    def done(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._release_clock()
            self.idle.set()

    def _release_clock(self) -> None:
        token, self._busy_token = self._busy_token, None
        if token is not None:
            token.__exit__(None, None, None)

    # --- what is runnable ----------------------------------------------------------------

    def mark_ready(self, target: str) -> None:
        if target not in self.ready:
            self.ready[target] = None
            self.started()
            self.ready_event.set()

    def take_ready(self) -> str | None:
        """The target that became ready first, removed from the ready set (None if empty)."""
        if not self.ready:
            return None
        target = next(iter(self.ready))
        del self.ready[target]
        return target

    def enqueue_activity(self, row: ActivityRow) -> None:
        self.started()
        self.activities.put_nowait(row)

    def activities_settled(self) -> bool:
        return self.activities.empty() and self.activities_running == 0

    # --- change signals ------------------------------------------------------------------

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next change of any instance's state (a new event after each change)."""
        return self._changed

    def notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def timers_changed_soon(self, post: PostCommit) -> None:
        """After the commit, the timer loop re-reads the next deadline (so a virtual clock
        never jumps to a timer that no longer exists)."""
        post.append(self.timers_changed.set)

    def ready_soon(self, target: str, post: PostCommit) -> None:
        post.append(lambda: self.mark_ready(target))

    # --- after stop ----------------------------------------------------------------------

    def forget(self) -> None:
        """After stop: what was pending lives on in the store and is picked up by start()."""
        self._release_clock()
        self.ready.clear()
        self.activities = asyncio.Queue()
        self.activities_running = 0
        self._pending = 0
        self.idle.set()
