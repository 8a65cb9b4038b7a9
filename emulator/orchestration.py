"""Running orchestration episodes and committing each in one transaction, with the work it
schedules (activities, timers, sub-orchestrations, entity messages).

A mixin of `DurableRuntime`: it uses the runtime's store, registry, clock and ready queue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulator.contracts import InvalidRequest, missing_function
from emulator.decisions import Decision
from emulator.episode import EpisodeInput, Outcome, run_episode
from emulator.history import (
    TERMINAL_STATUSES,
    EventType,
    Status,
    event,
    execution_started,
    iso,
)
from emulator.history_cache import CachedHistory
from emulator.instance_ids import ensure_replaceable, validate_instance_id
from emulator.store import Instance, Message

if TYPE_CHECKING:
    from emulator.runtime import DurableRuntime

log = logging.getLogger("emulator")

PostCommit = list[Callable[[], None]]


# Inbox messages one turn reads; the dispatcher runs the instance again when it hit this.
_INBOX_LIMIT = 10_000


class OrchestrationMixin:
    # --- orchestration episodes ----------------------------------------------------------

    async def _run_orchestration(self: DurableRuntime, instance_id: str) -> bool:
        """Handles the inbox in arrival order: messages before a suspend go to an episode, a
        suspend is recorded and holds what follows, a resume releases it. True when messages
        it can handle now remain (the dispatcher runs the instance again)."""
        store = self._store
        instance = store.get_instance(instance_id)
        messages = store.inbox(instance_id, limit=_INBOX_LIMIT)
        if not messages:
            return False
        full = len(messages) == _INBOX_LIMIT
        if instance is None or instance.status in TERMINAL_STATUSES:
            with store.transaction():
                store.delete_messages(m.id for m in messages)
            return full
        current = (None, instance.execution_id)
        live = [m for m in messages if m.execution_id in current]
        stale = [m.id for m in messages if m.execution_id not in current]
        if any(m.body["EventType"] == EventType.ExecutionTerminated for m in live):
            self._terminate_now(instance, messages)
            return full
        if instance.status == "Suspended":
            resume = _first_of(live, EventType.ExecutionResumed, 0)
            if resume is None:  # held until a resume arrives; it marks the instance ready
                self._consume_only(instance, stale, [])
                return full and bool(stale)
            # the resume releases what was held before it, up to the next suspend
            end = _first_of(live, EventType.ExecutionSuspended, resume + 1)
        else:
            end = _first_of(live, EventType.ExecutionSuspended, 0)
            if end == 0:  # suspended now; what follows waits for the next turn
                suspend = live[0]
                self._consume_only(instance, [*stale, suspend.id], [suspend], "Suspended")
                return full or len(live) > 1
        batch = live if end is None else live[:end]
        await self._episode(instance, batch, stale)
        return full or len(batch) < len(live)

    async def _episode(
        self: DurableRuntime, instance: Instance, live: list[Message], stale: list[int]
    ) -> None:
        cached = self._cached_history(instance)
        new_events = [m.body for m in live if m.body["EventType"] != EventType.ExecutionSuspended]
        if not cached.events and not any(
            e["EventType"] == EventType.ExecutionStarted for e in new_events
        ):
            log.warning("dropping messages for %s: it has not started", instance.instance_id)
            self._consume_only(instance, stale + [m.id for m in live], [])
            return
        if any(e["EventType"] == EventType.ExecutionStarted for e in new_events):
            log.info("orchestration %s started (instance %s)", instance.name, instance.instance_id)
        episode_input = EpisodeInput(
            name=instance.name,
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            input_text=instance.input,
            parent_instance_id=(instance.parent or {}).get("instance_id"),
            past=cached.events,
            past_json=cached.played,
            new_events=new_events,
            now=self.clock.now(),
        )
        invoker = self.registry.orchestrators.get(instance.name)
        outcome = await run_episode(episode_input, invoker)
        self._commit_episode(instance, outcome, stale + [m.id for m in live], episode_input.now)

    def _commit_episode(
        self: DurableRuntime,
        instance: Instance,
        outcome: Outcome,
        consumed: list[int],
        now: datetime,
    ) -> None:
        store = self._store
        latest = store.get_instance(instance.instance_id)
        if latest is None or latest.execution_id != instance.execution_id:
            log.info("instance %s was purged or replaced during its episode", instance.instance_id)
            return
        cached = self._cached_history(instance)
        post: PostCommit = []
        with store.transaction():
            if outcome.status != Status.ContinuedAsNew:  # else the new execution clears it
                store.append_history(
                    instance.instance_id,
                    instance.execution_id,
                    len(cached.events),
                    outcome.appended,
                )
            store.delete_messages(consumed)
            for decision in outcome.decisions:
                self._emit(instance, decision, now, post)
            self._update_instance(instance, outcome, now, post)
        self._remember(instance, cached, outcome)
        for action in post:
            action()
        self._log_outcome(instance, outcome)
        self._notify_changed()

    def _update_instance(
        self: DurableRuntime, instance: Instance, outcome: Outcome, now: datetime, post: PostCommit
    ) -> None:
        instance.status = outcome.status.name
        instance.updated = iso(now)
        if outcome.custom_status_text is not None:
            instance.custom_status = outcome.custom_status_text
        if outcome.status == Status.ContinuedAsNew:
            self._continue_as_new(instance, outcome.continue_input, now, post)
            return
        if outcome.status in (Status.Completed, Status.Failed):
            instance.output = outcome.output_text
            instance.completed = iso(now)
            self._clear_work(instance.instance_id, post)
            self._notify_parent(instance, outcome, now, post)
        self._store.put_instance(instance)

    def _continue_as_new(
        self: DurableRuntime,
        instance: Instance,
        input_text: str | None,
        now: datetime,
        post: PostCommit,
    ) -> None:
        store = self._store
        instance.execution_id = uuid.uuid4().hex
        instance.input = input_text
        instance.generation += 1
        store.clear_history(instance.instance_id)
        self._clear_work(instance.instance_id, post)
        store.put_instance(instance)
        started = execution_started(
            now,
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            name=instance.name,
            version=instance.version,
            input_text=input_text,
            parent=_parent_event_field(instance.parent),
            generation=instance.generation,
        )
        store.send(instance.instance_id, started, instance.execution_id)
        post.append(lambda: self._mark_ready(instance.instance_id))

    def _clear_work(self: DurableRuntime, instance_id: str, post: PostCommit) -> None:
        """Drops pending timers and activities; the timer loop then forgets their deadlines,
        so a virtual clock does not jump to a timer that no longer exists."""
        self._store.clear_work(instance_id)
        post.append(self._timer_changed.set)

    def _notify_parent(
        self: DurableRuntime, child: Instance, outcome: Outcome, now: datetime, post: PostCommit
    ) -> None:
        parent = child.parent
        if not parent:
            return
        if outcome.status == Status.Completed:
            message = event(
                EventType.SubOrchestrationInstanceCompleted,
                now,
                TaskScheduledId=parent["task_id"],
                Result=outcome.output_text,
            )
        else:
            message = event(
                EventType.SubOrchestrationInstanceFailed,
                now,
                TaskScheduledId=parent["task_id"],
                Reason=outcome.failure_reason,
                Details=outcome.failure_details,
                FailureDetails=None,
            )
        self._store.send(parent["instance_id"], message, parent["execution_id"])
        post.append(lambda: self._mark_ready(parent["instance_id"]))

    # --- decisions become work -----------------------------------------------------------

    def _emit(
        self: DurableRuntime,
        instance: Instance,
        decision: Decision,
        now: datetime,
        post: PostCommit,
    ) -> None:
        work = decision.work
        kind = work.get("kind")
        if kind == "activity":
            row = self._store.add_activity(
                instance.instance_id,
                instance.execution_id,
                decision.event_id,
                work["name"],
                work["input"],
            )
            post.append(lambda: self._enqueue_activity(row))
        elif kind == "timer":
            fire_at = work["fire_at"]
            self._store.add_timer(
                instance.instance_id, instance.execution_id, decision.event_id, fire_at
            )
            post.append(self._timer_changed.set)
        elif kind == "sub":
            self._create_child(instance, decision, now, post)
        elif kind == "entity":
            self._store.send(work["target"], work["request"])
            post.append(lambda: self._mark_ready(work["target"]))

    def _create_child(
        self: DurableRuntime, parent: Instance, decision: Decision, now: datetime, post: PostCommit
    ) -> None:
        work = decision.work
        child_id: str = work["instance_id"]
        problem = self._child_problem(work["name"], child_id)
        if problem is not None:
            failed = event(
                EventType.SubOrchestrationInstanceFailed,
                now,
                TaskScheduledId=decision.event_id,
                Reason=problem,
                Details=None,
                FailureDetails=None,
            )
            self._store.send(parent.instance_id, failed, parent.execution_id)
            post.append(lambda: self._mark_ready(parent.instance_id))
            return
        link = {
            "instance_id": parent.instance_id,
            "execution_id": parent.execution_id,
            "task_id": decision.event_id,
            "name": parent.name,
        }
        self.create_instance(child_id, work["name"], work.get("version"), work["input"], link, now)
        post.append(lambda: self._mark_ready(child_id))

    def _child_problem(self: DurableRuntime, name: str, child_id: str) -> str | None:
        """Why the sub-orchestration cannot start, or None. Like on Azure Storage, the id of
        a finished instance is reused (its old history is replaced); a live one is refused."""
        if name not in self.registry.orchestrators:
            return missing_function(name, "orchestrator")
        try:
            validate_instance_id(child_id)
            existing = self._store.get_instance(child_id)
            ensure_replaceable(existing.status if existing else None)
        except InvalidRequest as exc:
            return str(exc)
        return None

    # --- history cache -------------------------------------------------------------------

    def _cached_history(self: DurableRuntime, instance: Instance) -> CachedHistory:
        return self._histories.get(self._store, instance.instance_id, instance.execution_id)

    def _remember(
        self: DurableRuntime, instance: Instance, cached: CachedHistory, outcome: Outcome
    ) -> None:
        if instance.status in TERMINAL_STATUSES:
            self._histories.forget(instance.instance_id)
        elif outcome.status == Status.ContinuedAsNew:  # the new execution starts empty
            self._histories.start(instance.instance_id, instance.execution_id)
        else:
            cached.extend(outcome.appended)

    def _log_outcome(self: DurableRuntime, instance: Instance, outcome: Outcome) -> None:
        name, instance_id = instance.name, instance.instance_id
        if outcome.status == Status.Completed:
            log.info("orchestration %s completed (instance %s)", name, instance_id)
        elif outcome.status == Status.Failed:
            log.warning(
                "orchestration %s failed (instance %s): %s",
                name,
                instance_id,
                outcome.failure_reason,
            )
        elif outcome.status == Status.ContinuedAsNew:
            log.info("orchestration %s continued as new (instance %s)", name, instance_id)

    # --- instances -----------------------------------------------------------------------

    def create_instance(
        self: DurableRuntime,
        instance_id: str,
        name: str,
        version: str | None,
        input_text: str | None,
        parent: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        """Inside a transaction: (re)creates the instance as Pending with its ExecutionStarted."""
        store = self._store
        store.delete_instance(instance_id)
        self._histories.forget(instance_id)
        execution_id = uuid.uuid4().hex
        stamp = iso(now)
        instance = Instance(
            instance_id, name, version, execution_id, "Pending", input_text, None, None,
            stamp, stamp, None, parent,
        )  # fmt: skip
        store.put_instance(instance)
        started = execution_started(
            now,
            instance_id=instance_id,
            execution_id=execution_id,
            name=name,
            version=version,
            input_text=input_text,
            parent=_parent_event_field(parent),
        )
        store.send(instance_id, started, execution_id)


def _parent_event_field(parent: dict[str, Any] | None) -> dict[str, Any] | None:
    if not parent:
        return None
    return {
        "Name": parent.get("name"),
        "Version": "",
        "OrchestrationInstance": {
            "InstanceId": parent["instance_id"],
            "ExecutionId": parent["execution_id"],
        },
        "TaskScheduleId": parent["task_id"],
    }


def _first_of(messages: list[Message], kind: EventType, start: int) -> int | None:
    """The index of the first message of `kind` at or after `start`, or None."""
    for index in range(start, len(messages)):
        if messages[index].body["EventType"] == kind:
            return index
    return None
