"""The durable runtime: dispatches orchestration episodes, activities, entity batches and timers
over the SQLite store, and serves the `RuntimeApi` the host calls (see management.py).

One dispatcher runs episodes and entity batches one at a time (so each instance sees one
episode at a time); activity workers run concurrently; a timer loop turns due durable timers
into `TimerFired` messages. Pending work holds `clock.busy()`, so a virtual clock only jumps
when nothing is runnable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from emulator.clock import Clock, SystemClock
from emulator.contracts import FunctionRegistry, missing_function
from emulator.control import ControlMixin
from emulator.entity_dispatch import EntityMixin
from emulator.history import TERMINAL_STATUSES, Event, EventType, event, iso, parse_time
from emulator.history_cache import HistoryCache
from emulator.http_activity import call_http
from emulator.management import ManagementMixin
from emulator.orchestration import OrchestrationMixin
from emulator.replay import HTTP_ACTIVITY
from emulator.sdk_speedups import install as install_sdk_speedups
from emulator.store import ActivityRow, CommitHook, Store

log = logging.getLogger("emulator")

# Loop turns the dispatcher lets activity workers run before an episode, so that
# completions arriving together are applied in one episode instead of one each.
_SETTLE_TURNS = 200


class DurableRuntime(OrchestrationMixin, ControlMixin, EntityMixin, ManagementMixin):
    def __init__(
        self,
        registry: FunctionRegistry,
        state_path: str | Path,
        *,
        hub_name: str,
        clock: Clock | None = None,
        activity_concurrency: int = 8,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.registry = registry
        self._on_commit = on_commit  # told which instances each commit changed (the mirror)
        self.hub_name = hub_name
        self.clock: Clock = clock or SystemClock()
        self._state_path = Path(state_path)
        self._concurrency = max(1, activity_concurrency)
        self._store_: Store | None = None
        self._ready: dict[str, None] = {}
        self._ready_event = asyncio.Event()
        self._activity_queue: asyncio.Queue[ActivityRow] = asyncio.Queue()
        self._activities_running = 0
        self._timer_changed = asyncio.Event()
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._pending = 0
        self._busy_token: contextlib.AbstractContextManager[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._histories = HistoryCache()
        self._completions: list[tuple[ActivityRow, Event]] = []

    @property
    def _store(self) -> Store:
        if self._store_ is None:
            raise RuntimeError("the durable runtime is not started")
        return self._store_

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        install_sdk_speedups()
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        self._store_ = Store(self._state_path, on_commit=self._on_commit)
        for target in self._store.targets_with_messages():
            self._mark_ready(target)
        for row in self._store.pending_activities():
            self._enqueue_activity(row)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._dispatch_loop()),
            loop.create_task(self._timer_loop()),
        ]
        self._tasks += [loop.create_task(self._activity_worker()) for _ in range(self._concurrency)]
        log.info("durable runtime started (hub %s, state %s)", self.hub_name, self._state_path)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._busy_token is not None:
            self._busy_token.__exit__(None, None, None)
            self._busy_token = None
        if self._store_ is not None:
            self._store_.close()
            self._store_ = None
        self._forget_in_memory_work()

    def _forget_in_memory_work(self) -> None:
        """After stop: what was pending lives on in the store and is picked up by start()."""
        self._ready.clear()
        self._activity_queue = asyncio.Queue()
        self._activities_running = 0
        self._completions = []
        self._histories.clear()
        self._pending = 0
        self._idle.set()

    async def wait_until_idle(self, timeout: float = 30) -> None:  # noqa: ASYNC109
        """Returns once no episode, entity batch or activity is runnable or running."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def wait_for_instance(
        self,
        instance_id: str,
        timeout: float = 30,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Waits until the instance is Completed, Failed, Terminated or Canceled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            instance = self._store.get_instance(instance_id)
            if instance is not None and instance.status in TERMINAL_STATUSES:
                status = await self.get_status(instance_id)
                assert status is not None
                return status
            remaining = deadline - loop.time()
            if remaining <= 0:
                state = instance.status if instance else "missing"
                raise TimeoutError(f"instance {instance_id} is still {state}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def get_history(self, instance_id: str) -> list[Event]:
        """The raw DTFx history of the instance's current execution."""
        return self._store.load_history(instance_id)

    # --- pending-work accounting (idle detection and the virtual clock) ------------------

    def _work_started(self) -> None:
        self._pending += 1
        if self._pending == 1:
            self._idle.clear()
            self._busy_token = self.clock.busy()
            self._busy_token.__enter__()

    def _work_done(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            token, self._busy_token = self._busy_token, None
            if token is not None:
                token.__exit__(None, None, None)
            self._idle.set()

    def _mark_ready(self, target: str) -> None:
        if target not in self._ready:
            self._ready[target] = None
            self._work_started()
            self._ready_event.set()

    def _enqueue_activity(self, row: ActivityRow) -> None:
        self._work_started()
        self._activity_queue.put_nowait(row)

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- dispatcher ----------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            await self._ready_event.wait()
            if not self._ready:
                self._ready_event.clear()
                continue
            await self._settle()
            target = next(iter(self._ready))
            del self._ready[target]
            try:
                if target.startswith("@"):
                    again = await self._run_entity(target)
                else:
                    again = await self._run_orchestration(target)
                if again:  # messages it can handle remain (past a suspend or a read limit)
                    self._mark_ready(target)
            except Exception:
                log.exception("internal error while processing %s", target)
            finally:
                self._work_done()

    async def _settle(self) -> None:
        for _ in range(_SETTLE_TURNS):
            if self._activity_queue.empty() and self._activities_running == 0:
                return
            await asyncio.sleep(0)

    # --- activities ----------------------------------------------------------------------

    async def _activity_worker(self) -> None:
        while True:
            row = await self._activity_queue.get()
            self._activities_running += 1
            try:
                await self._run_activity(row)
            except Exception:
                log.exception("internal error while running activity %s", row.name)
            finally:
                self._activities_running -= 1
                self._work_done()

    async def _run_activity(self, row: ActivityRow) -> None:
        invoker = self.registry.activities.get(row.name)
        log.info(
            "activity %s started (instance %s, task %d)", row.name, row.instance_id, row.task_id
        )
        try:
            input_text = row.input if row.input is not None else "null"
            if invoker is None and row.name == HTTP_ACTIVITY:
                result = await call_http(input_text)
            elif invoker is None:
                raise LookupError(missing_function(row.name, "activity"))
            else:
                result = await invoker(input_text)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.warning("activity %s failed (instance %s): %s", row.name, row.instance_id, message)
            outcome = event(
                EventType.TaskFailed,
                self.clock.now(),
                TaskScheduledId=row.task_id,
                Reason=f"Activity function '{row.name}' failed: {message}",
                Details=f"{type(exc).__name__}: {message}",
                FailureDetails=None,
            )
        else:
            log.info("activity %s completed (instance %s)", row.name, row.instance_id)
            outcome = event(
                EventType.TaskCompleted,
                self.clock.now(),
                TaskScheduledId=row.task_id,
                Result=result,
            )
        self._complete_activity(row, outcome)

    def _complete_activity(self, row: ActivityRow, outcome: Event) -> None:
        """Queues the completion; completions finishing together are committed together."""
        if not self._completions:
            self._work_started()  # held until the flush, so idleness waits for it
            asyncio.get_running_loop().call_soon(self._flush_completions)
        self._completions.append((row, outcome))

    def _flush_completions(self) -> None:
        batch, self._completions = self._completions, []
        targets: list[str] = []
        try:
            if self._store_ is None:  # stopped meanwhile: these activities will run again
                return
            with self._store.transaction():
                for row, outcome in batch:
                    if not self._store.delete_activity(row.id):
                        continue  # the instance ended or was purged meanwhile
                    self._store.send(row.instance_id, outcome, row.execution_id)
                    targets.append(row.instance_id)
            for target in targets:
                self._mark_ready(target)
        finally:
            self._work_done()

    # --- durable timers ------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        while True:
            self._timer_changed.clear()
            next_at = self._store.next_timer_at()
            if next_at is None:
                await self._timer_changed.wait()
                continue
            when = parse_time(next_at)
            if when > self.clock.now() and not await self._sleep_or_change(when):
                continue
            self._fire_due_timers()

    async def _sleep_or_change(self, when: Any) -> bool:
        """True when `when` was reached; False when the timer set changed first."""
        sleeper = asyncio.ensure_future(self.clock.sleep_until(when))
        changed = asyncio.ensure_future(self._timer_changed.wait())
        done, pending = await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return sleeper in done

    def _fire_due_timers(self) -> None:
        now = self.clock.now()
        targets: list[str] = []
        with self._store.transaction():
            for row_id, instance_id, execution_id, timer_id, fire_at in self._store.due_timers(
                iso(now)
            ):
                self._store.delete_timer(row_id)
                fired = event(EventType.TimerFired, now, TimerId=timer_id, FireAt=fire_at)
                self._store.send(instance_id, fired, execution_id)
                targets.append(instance_id)
        for target in targets:
            self._mark_ready(target)
