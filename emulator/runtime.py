"""The durable runtime: dispatches orchestration episodes, activities, entity batches and timers
over the SQLite store, and serves the `RuntimeApi` the host calls.

One dispatcher runs episodes and entity batches one at a time (so each instance sees one
episode at a time); activity workers run concurrently; a timer loop turns due durable timers
into `TimerFired` messages. Pending work holds `clock.busy()`, so a virtual clock only jumps
when nothing is runnable.

The runtime owns small collaborators and hands each what it needs; none of them knows the
runtime: `Work` (what is runnable), `Instances` (writes shared by the others),
`Orchestrations` (episodes, with `Control` for terminate and suspend), `EntityBatches`, and
`Management` (the `RuntimeApi` methods, which the runtime passes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.clock import Clock, SystemClock
from emulator.contracts import FunctionRegistry, Page
from emulator.entity_dispatch import EntityBatches
from emulator.history import TERMINAL_STATUSES, Event, EventType, event, iso, parse_time
from emulator.history_cache import HistoryCache
from emulator.http_activity import call_http
from emulator.instances import Instances
from emulator.management import Management
from emulator.orchestration import Orchestrations
from emulator.scheduling_rules import HTTP_ACTIVITY
from emulator.sdk_speedups import install as install_sdk_speedups
from emulator.store import ActivityRow, CommitHook, Store
from emulator.versioning import Versioning
from emulator.work import Work

log = logging.getLogger("emulator")

# Loop turns the dispatcher lets activity workers run before an episode, so that
# completions arriving together are applied in one episode instead of one each.
_SETTLE_TURNS = 200


class _Parts:
    """The collaborators that need the open store: made at start, dropped at stop."""

    def __init__(
        self,
        store: Store,
        registry: FunctionRegistry,
        clock: Clock,
        work: Work,
        histories: HistoryCache,
        versioning: Versioning,
    ) -> None:
        self.store = store
        instances = Instances(store, histories, work)
        self.orchestrations = Orchestrations(store, registry, clock, work, instances, versioning)
        self.entities = EntityBatches(store, registry, clock, work)
        self.management = Management(store, registry, clock, work, instances, versioning)


class DurableRuntime:
    def __init__(
        self,
        registry: FunctionRegistry,
        state_path: str | Path,
        *,
        hub_name: str,
        clock: Clock | None = None,
        activity_concurrency: int = 8,
        versioning: Versioning | None = None,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.registry = registry
        self.versioning = versioning or Versioning()
        self._on_commit = on_commit  # told which instances each commit changed (the mirror)
        self.hub_name = hub_name
        self.clock: Clock = clock or SystemClock()
        self._state_path = Path(state_path)
        self._concurrency = max(1, activity_concurrency)
        self._work = Work(self.clock)
        self._histories = HistoryCache()
        self._parts_: _Parts | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._completions: list[tuple[ActivityRow, Event]] = []

    @property
    def _parts(self) -> _Parts:
        if self._parts_ is None:
            raise RuntimeError("the durable runtime is not started")
        return self._parts_

    @property
    def _store(self) -> Store:
        return self._parts.store

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        install_sdk_speedups()
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        store = Store(self._state_path, on_commit=self._on_commit)
        self._parts_ = _Parts(
            store, self.registry, self.clock, self._work, self._histories, self.versioning
        )
        for target in self._store.targets_with_messages():
            self._work.mark_ready(target)
        for row in self._store.pending_activities():
            self._work.enqueue_activity(row)
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
        if self._parts_ is not None:
            self._parts_.store.close()
            self._parts_ = None
        # what was pending lives on in the store and is picked up by start()
        self._work.forget()
        self._completions = []
        self._histories.clear()

    async def wait_until_idle(self, timeout: float = 30) -> None:  # noqa: ASYNC109
        """Returns once no episode, entity batch or activity is runnable or running."""
        await asyncio.wait_for(self._work.idle.wait(), timeout)

    async def wait_for_instance(
        self,
        instance_id: str,
        timeout: float = 30,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Waits until the instance is Completed, Failed, Terminated or Canceled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._work.changed
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

    # --- the RuntimeApi (contracts.py), answered by Management ---------------------------

    async def start_new(
        self,
        name: str,
        instance_id: str | None,
        input_text: str | None,
        version: str | None = None,
    ) -> str:
        return await self._parts.management.start_new(name, instance_id, input_text, version)

    async def get_status(
        self,
        instance_id: str,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        return await self._parts.management.get_status(
            instance_id, show_history, show_history_output, show_input
        )

    async def query(
        self,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        statuses: list[str] | None = None,
        prefix: str | None = None,
        show_input: bool = True,
    ) -> list[dict[str, Any]]:
        return await self._parts.management.query(
            created_from, created_to, statuses, prefix, show_input
        )

    async def query_page(
        self,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        statuses: list[str] | None = None,
        prefix: str | None = None,
        show_input: bool = True,
        top: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        return await self._parts.management.query_page(
            created_from, created_to, statuses, prefix, show_input, top, continuation
        )

    async def raise_event(self, instance_id: str, name: str, data_text: str | None) -> None:
        await self._parts.management.raise_event(instance_id, name, data_text)

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._parts.management.terminate(instance_id, reason)

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._parts.management.suspend(instance_id, reason)

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._parts.management.resume(instance_id, reason)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        await self._parts.management.rewind(instance_id, reason)

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        return await self._parts.management.restart(instance_id, new_instance_id)

    async def purge(self, instance_id: str) -> int:
        return await self._parts.management.purge(instance_id)

    async def purge_by(
        self,
        created_from: datetime,
        created_to: datetime | None,
        statuses: list[str] | None,
    ) -> int:
        return await self._parts.management.purge_by(created_from, created_to, statuses)

    async def signal_entity(
        self, name: str, key: str, operation: str, input_text: str | None
    ) -> None:
        await self._parts.management.signal_entity(name, key, operation, input_text)

    async def read_entity(self, name: str, key: str) -> tuple[bool, str | None]:
        return await self._parts.management.read_entity(name, key)

    async def list_entities(self, name: str | None, fetch_state: bool) -> list[dict[str, Any]]:
        return await self._parts.management.list_entities(name, fetch_state)

    async def list_entities_page(
        self,
        name: str | None,
        fetch_state: bool,
        top: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        return await self._parts.management.list_entities_page(name, fetch_state, top, continuation)

    # --- dispatcher ----------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        work = self._work
        while True:
            await work.ready_event.wait()
            if not work.ready:
                work.ready_event.clear()
                continue
            await self._settle()
            target = work.take_ready()
            if target is None:
                continue
            try:
                if target.startswith("@"):
                    again = await self._parts.entities.run(target)
                else:
                    again = await self._parts.orchestrations.run(target)
                if again:  # messages it can handle remain (past a suspend or a read limit)
                    work.mark_ready(target)
            except Exception:
                log.exception("internal error while processing %s", target)
            finally:
                work.done()

    async def _settle(self) -> None:
        for _ in range(_SETTLE_TURNS):
            if self._work.activities_settled():
                return
            await asyncio.sleep(0)

    # --- activities ----------------------------------------------------------------------

    async def _activity_worker(self) -> None:
        work = self._work
        while True:
            row = await work.activities.get()
            work.activities_running += 1
            try:
                await self._run_activity(row)
            except Exception:
                log.exception("internal error while running activity %s", row.name)
            finally:
                work.activities_running -= 1
                work.done()

    async def _run_activity(self, row: ActivityRow) -> None:
        invoker = self.registry.activity(row.name)
        log.info(
            "activity %s started (instance %s, task %d)", row.name, row.instance_id, row.task_id
        )
        try:
            input_text = row.input if row.input is not None else "null"
            if invoker is None and row.name == HTTP_ACTIVITY:
                result = await call_http(input_text)
            elif invoker is None:
                raise LookupError(self.registry.missing(row.name, "activity"))
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
            self._work.started()  # held until the flush, so idleness waits for it
            asyncio.get_running_loop().call_soon(self._flush_completions)
        self._completions.append((row, outcome))

    def _flush_completions(self) -> None:
        batch, self._completions = self._completions, []
        targets: list[str] = []
        try:
            if self._parts_ is None:  # stopped meanwhile: these activities will run again
                return
            with self._store.transaction():
                for row, outcome in batch:
                    if not self._store.delete_activity(row.id):
                        continue  # the instance ended or was purged meanwhile
                    self._store.send(row.instance_id, outcome, row.execution_id)
                    targets.append(row.instance_id)
            for target in targets:
                self._work.mark_ready(target)
        finally:
            self._work.done()

    # --- durable timers ------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        while True:
            self._work.timers_changed.clear()
            next_at = self._store.next_timer_at()
            if next_at is None:
                await self._work.timers_changed.wait()
                continue
            when = parse_time(next_at)
            if when > self.clock.now() and not await self._sleep_or_change(when):
                continue
            self._fire_due_timers()

    async def _sleep_or_change(self, when: Any) -> bool:
        """True when `when` was reached; False when the timer set changed first."""
        sleeper = asyncio.ensure_future(self.clock.sleep_until(when))
        changed = asyncio.ensure_future(self._work.timers_changed.wait())
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
            self._work.mark_ready(target)
