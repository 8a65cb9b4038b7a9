"""Running orchestration episodes and entity batches, and committing each in one transaction.

A mixin of `DurableRuntime`: it uses the runtime's store, registry, clock and ready queue.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulator.episode import EpisodeInput, Outcome, run_episode
from emulator.history import (
    TERMINAL_STATUSES,
    Event,
    EventType,
    Status,
    event,
    execution_completed,
    execution_started,
    iso,
)
from emulator.replay import Decision
from emulator.store import ActivityRow, Instance, Message

if TYPE_CHECKING:
    from emulator.runtime import DurableRuntime

log = logging.getLogger("emulator")

_CONTROL = {
    EventType.ExecutionTerminated,
    EventType.ExecutionSuspended,
    EventType.ExecutionResumed,
}

PostCommit = list[Callable[[], None]]


class OrchestrationMixin:
    # --- orchestration episodes ----------------------------------------------------------

    async def _run_orchestration(self: DurableRuntime, instance_id: str) -> None:
        store = self._store
        instance = store.get_instance(instance_id)
        messages = store.inbox(instance_id)
        if not messages:
            return
        if instance is None or instance.status in TERMINAL_STATUSES:
            with store.transaction():
                store.delete_messages(m.id for m in messages)
            return
        current = (None, instance.execution_id)
        live = [m for m in messages if m.execution_id in current]
        stale = [m.id for m in messages if m.execution_id not in current]
        kinds = {m.body["EventType"] for m in live}
        if EventType.ExecutionTerminated in kinds:
            self._terminate_now(instance, messages)
        elif instance.status == "Suspended" and EventType.ExecutionResumed not in kinds:
            self._consume_only(instance, stale, [])
        elif EventType.ExecutionSuspended in kinds and instance.status != "Suspended":
            suspend = [m for m in live if m.body["EventType"] == EventType.ExecutionSuspended]
            self._consume_only(instance, stale + [m.id for m in suspend], suspend, "Suspended")
        else:
            await self._episode(instance, live, stale)

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
            store.append_history(
                instance.instance_id, instance.execution_id, len(cached.events), outcome.appended
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
            self._store.clear_work(instance.instance_id)
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
        store.clear_work(instance.instance_id)
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
            row_id = self._store.add_activity(
                instance.instance_id,
                instance.execution_id,
                decision.event_id,
                work["name"],
                work["input"],
            )
            row = ActivityRow(
                row_id,
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
        existing = self._store.get_instance(child_id)
        problem = None
        if work["name"] not in self.registry.orchestrators:
            problem = (
                f"The function '{work['name']}' doesn't exist, is disabled, or is not an "
                "orchestrator function."
            )
        elif existing is not None and existing.status not in TERMINAL_STATUSES:
            problem = f"An Orchestration instance with the status {existing.status} already exists."
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

    # --- control messages ----------------------------------------------------------------

    def _terminate_now(self: DurableRuntime, instance: Instance, messages: list[Message]) -> None:
        now = self.clock.now()
        request = next(m for m in messages if m.body["EventType"] == EventType.ExecutionTerminated)
        reason = request.body.get("Input")
        output = json.dumps(reason)
        cached = self._cached_history(instance)
        started = [
            m.body
            for m in messages
            if m.body["EventType"] == EventType.ExecutionStarted and not cached.events
        ]
        appended = [
            event(EventType.OrchestratorStarted, now),
            *started[:1],
            request.body,
            execution_completed(now, Status.Terminated, output),
            event(EventType.OrchestratorCompleted, now),
        ]
        outcome = Outcome(appended=appended, status=Status.Terminated, output_text=output)
        outcome.failure_reason = f"Orchestration '{instance.name}' was terminated: {reason}"
        post: PostCommit = []
        with self._store.transaction():
            self._store.append_history(
                instance.instance_id, instance.execution_id, len(cached.events), appended
            )
            self._store.delete_messages(m.id for m in messages)
            self._store.clear_work(instance.instance_id)
            instance.status, instance.output = "Terminated", output
            instance.updated = instance.completed = iso(now)
            self._store.put_instance(instance)
            self._notify_parent(instance, outcome, now, post)
        self._histories.pop(instance.instance_id, None)
        for action in post:
            action()
        log.info("orchestration %s terminated (instance %s)", instance.name, instance.instance_id)
        self._notify_changed()

    def _consume_only(
        self: DurableRuntime,
        instance: Instance,
        consumed: list[int],
        recorded: list[Message],
        status: str | None = None,
    ) -> None:
        """Records control events (suspension) without running the orchestrator."""
        now = self.clock.now()
        cached = self._cached_history(instance)
        appended: list[Event] = []
        if recorded:
            appended = [
                event(EventType.OrchestratorStarted, now),
                *(m.body for m in recorded),
                event(EventType.OrchestratorCompleted, now),
            ]
        with self._store.transaction():
            self._store.append_history(
                instance.instance_id, instance.execution_id, len(cached.events), appended
            )
            self._store.delete_messages(consumed)
            if status is not None:
                instance.status, instance.updated = status, iso(now)
                self._store.put_instance(instance)
        self._remember(instance, cached, Outcome(appended=appended))
        if status is not None:
            log.info(
                "orchestration %s suspended (instance %s)", instance.name, instance.instance_id
            )
            self._notify_changed()

    # --- history cache -------------------------------------------------------------------

    def _cached_history(self: DurableRuntime, instance: Instance) -> Any:
        from emulator.runtime import CachedHistory

        cached = self._histories.get(instance.instance_id)
        if cached is None or cached.execution_id != instance.execution_id:
            texts = self._store.load_history_texts(instance.instance_id)
            events = json.loads("[" + ",".join(texts) + "]")
            cached = CachedHistory(instance.execution_id, events, [_played_text(t) for t in texts])
            self._histories[instance.instance_id] = cached
        return cached

    def _remember(self: DurableRuntime, instance: Instance, cached: Any, outcome: Outcome) -> None:
        if instance.status in TERMINAL_STATUSES or outcome.status == Status.ContinuedAsNew:
            self._histories.pop(instance.instance_id, None)
            return
        cached.events.extend(outcome.appended)
        cached.played.extend(_played(e) for e in outcome.appended)

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
        self._histories.pop(instance_id, None)
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


def _played(e: Event) -> str:
    return json.dumps({**e, "IsPlayed": True})


def _played_text(text: str) -> str:
    """A stored event's JSON with IsPlayed set. Inside JSON strings quotes are escaped, so the
    first unescaped `"IsPlayed": false` is the event's own key."""
    return text.replace('"IsPlayed": false', '"IsPlayed": true', 1)


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
