"""Running orchestration episodes and committing each in one transaction, with the work it
schedules (activities, timers, sub-orchestrations, entity messages)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from emulator.clock import Clock
from emulator.contracts import FunctionRegistry
from emulator.control import Control
from emulator.decisions import Decision
from emulator.episode import EpisodeInput, Outcome, refused_episode, run_episode
from emulator.history import (
    TERMINAL_STATUSES,
    EventType,
    Status,
    execution_started,
    iso,
)
from emulator.instances import Instances, parent_event_field
from emulator.scheduling_rules import SchedulingRules
from emulator.store import Instance, Message, Store
from emulator.versioning import Versioning
from emulator.work import PostCommit, Work

log = logging.getLogger("emulator")


# Inbox messages one turn reads; the dispatcher runs the instance again when it hit this.
_INBOX_LIMIT = 10_000


class Orchestrations:
    def __init__(
        self,
        store: Store,
        registry: FunctionRegistry,
        clock: Clock,
        work: Work,
        instances: Instances,
        versioning: Versioning,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._work = work
        self._instances = instances
        self._versioning = versioning
        self._control = Control(store, clock, work, instances)

    # --- orchestration episodes ----------------------------------------------------------

    async def run(self, instance_id: str) -> bool:
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
            self._control.terminate_now(instance, messages)
            return full
        if instance.status == "Suspended":
            resume = _first_of(live, EventType.ExecutionResumed, 0)
            if resume is None:  # held until a resume arrives; it marks the instance ready
                self._control.consume_only(instance, stale, [])
                return full and bool(stale)
            # the resume releases what was held before it, up to the next suspend
            end = _first_of(live, EventType.ExecutionSuspended, resume + 1)
        else:
            end = _first_of(live, EventType.ExecutionSuspended, 0)
            if end == 0:  # suspended now; what follows waits for the next turn
                suspend = live[0]
                self._control.consume_only(instance, [*stale, suspend.id], [suspend], "Suspended")
                return full or len(live) > 1
        batch = live if end is None else live[:end]
        await self._episode(instance, batch, stale)
        return full or len(batch) < len(live)

    async def _episode(self, instance: Instance, live: list[Message], stale: list[int]) -> None:
        cached = self._instances.cached_history(instance)
        new_events = [m.body for m in live if m.body["EventType"] != EventType.ExecutionSuspended]
        if not cached.events and not any(
            e["EventType"] == EventType.ExecutionStarted for e in new_events
        ):
            log.warning("dropping messages for %s: it has not started", instance.instance_id)
            self._control.consume_only(instance, stale + [m.id for m in live], [])
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
            past_json=cached.texts,
            new_events=new_events,
            now=self._clock.now(),
        )
        refusal = self._versioning.refusal(instance.name, instance.version)
        if refusal is not None:  # this worker does not run it: nothing is invoked
            outcome = refused_episode(episode_input, *refusal)
        else:
            invoker = self._registry.orchestrator(instance.name)
            outcome = await run_episode(episode_input, invoker, self._rules(instance))
        self._commit_episode(instance, outcome, stale + [m.id for m in live], episode_input.now)

    def _rules(self, instance: Instance) -> SchedulingRules:
        def status_of(instance_id: str) -> str | None:
            found = self._store.get_instance(instance_id)
            return found.status if found else None

        parent_id = (instance.parent or {}).get("instance_id")
        return SchedulingRules(
            self._registry,
            instance.name,
            instance.instance_id,
            parent_id,
            status_of,
            self._versioning.default_version,
        )

    def _commit_episode(
        self,
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
        cached = self._instances.cached_history(instance)
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
        self._instances.remember(instance, cached, outcome)
        for action in post:
            action()
        self._log_outcome(instance, outcome)
        self._work.notify_changed()

    def _update_instance(
        self, instance: Instance, outcome: Outcome, now: datetime, post: PostCommit
    ) -> None:
        instance.status = outcome.status.name
        instance.updated = iso(now)
        if outcome.custom_status_text is not None:
            instance.custom_status = outcome.custom_status_text
        if outcome.status == Status.ContinuedAsNew:
            self._continue_as_new(instance, outcome, now, post)
            return
        if outcome.status in (Status.Completed, Status.Failed):
            instance.output = outcome.output_text
            instance.completed = iso(now)
            self._instances.clear_work(instance.instance_id, post)
            self._instances.notify_parent(instance, outcome, now, post)
        self._store.put_instance(instance)

    def _continue_as_new(
        self, instance: Instance, outcome: Outcome, now: datetime, post: PostCommit
    ) -> None:
        """Starts the next generation: its ExecutionStarted, then the events raised after
        continue_as_new in the last episode (carried over, as on Azure Storage)."""
        store = self._store
        input_text = outcome.continue_input
        instance.execution_id = uuid.uuid4().hex
        instance.input = input_text
        instance.generation += 1
        store.clear_history(instance.instance_id)
        self._instances.clear_work(instance.instance_id, post)
        store.put_instance(instance)
        started = execution_started(
            now,
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            name=instance.name,
            version=instance.version,
            input_text=input_text,
            parent=parent_event_field(instance.parent),
            generation=instance.generation,
        )
        store.send(instance.instance_id, started, instance.execution_id)
        for carried in outcome.carried:
            store.send(instance.instance_id, carried, instance.execution_id)
        self._work.ready_soon(instance.instance_id, post)

    # --- decisions become work -----------------------------------------------------------

    def _emit(
        self,
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
            post.append(lambda: self._work.enqueue_activity(row))
        elif kind == "timer":
            fire_at = work["fire_at"]
            self._store.add_timer(
                instance.instance_id, instance.execution_id, decision.event_id, fire_at
            )
            self._work.timers_changed_soon(post)
        elif kind == "sub":
            self._create_child(instance, decision, now, post)
        elif kind == "entity":
            self._store.send(work["target"], work["request"])
            self._work.ready_soon(work["target"], post)

    def _create_child(
        self, parent: Instance, decision: Decision, now: datetime, post: PostCommit
    ) -> None:
        """Like on Azure Storage, the id of a finished instance is reused (its old history is
        replaced); one of a live instance never gets here (scheduling_rules.py)."""
        work = decision.work
        child_id: str = work["instance_id"]
        link = {
            "instance_id": parent.instance_id,
            "execution_id": parent.execution_id,
            "task_id": decision.event_id,
            "name": parent.name,
        }
        name, version, input_text = work["name"], work.get("version"), work["input"]
        self._instances.create(child_id, name, version, input_text, link, now)
        self._work.ready_soon(child_id, post)

    def _log_outcome(self, instance: Instance, outcome: Outcome) -> None:
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


def _first_of(messages: list[Message], kind: EventType, start: int) -> int | None:
    """The index of the first message of `kind` at or after `start`, or None."""
    for index in range(start, len(messages)):
        if messages[index].body["EventType"] == kind:
            return index
    return None
