"""Control messages that end or pause an instance without running its orchestrator:
terminate (recorded at once, even while suspended) and suspend."""

from __future__ import annotations

import json
import logging

from emulator.clock import Clock
from emulator.episode import Outcome
from emulator.history import (
    Event,
    EventType,
    Status,
    event,
    execution_completed,
    iso,
    recorded,
    scheduling_count,
)
from emulator.instances import Instances
from emulator.store import Instance, Message, Store
from emulator.work import PostCommit, Work

log = logging.getLogger("emulator")


class Control:
    def __init__(self, store: Store, clock: Clock, work: Work, instances: Instances) -> None:
        self._store = store
        self._clock = clock
        self._work = work
        self._instances = instances

    def terminate_now(self, instance: Instance, messages: list[Message]) -> None:
        now = self._clock.now()
        request = next(m for m in messages if m.body["EventType"] == EventType.ExecutionTerminated)
        reason = request.body.get("Input")
        output = json.dumps(reason)
        cached = self._instances.cached_history(instance)
        started = [
            m.body
            for m in messages
            if m.body["EventType"] == EventType.ExecutionStarted and not cached.events
        ]
        # the completion's id: the next one a replay of the history would allocate
        completion_id = scheduling_count(cached.events)
        appended = recorded(
            [
                event(EventType.OrchestratorStarted, now),
                *started[:1],
                request.body,
                execution_completed(now, Status.Terminated, output, None, completion_id),
                event(EventType.OrchestratorCompleted, now),
            ]
        )
        outcome = Outcome(appended=appended, status=Status.Terminated, output_text=output)
        outcome.failure_reason = f"Orchestration '{instance.name}' was terminated: {reason}"
        post: PostCommit = []
        with self._store.transaction():
            self._store.append_history(
                instance.instance_id, instance.execution_id, len(cached.events), appended
            )
            self._store.delete_messages(m.id for m in messages)
            self._instances.clear_work(instance.instance_id, post)
            instance.status, instance.output = "Terminated", output
            instance.updated = instance.completed = iso(now)
            self._store.put_instance(instance)
            self._instances.notify_parent(instance, outcome, now, post)
        self._instances.forget_history(instance.instance_id)
        for action in post:
            action()
        log.info("orchestration %s terminated (instance %s)", instance.name, instance.instance_id)
        self._work.notify_changed()

    def consume_only(
        self,
        instance: Instance,
        consumed: list[int],
        messages: list[Message],
        status: str | None = None,
    ) -> None:
        """Records control events (suspension) without running the orchestrator."""
        if not consumed and not messages and status is None:
            return
        now = self._clock.now()
        cached = self._instances.cached_history(instance)
        appended: list[Event] = []
        if messages:
            appended = recorded(
                [
                    event(EventType.OrchestratorStarted, now),
                    *(m.body for m in messages),
                    event(EventType.OrchestratorCompleted, now),
                ]
            )
        with self._store.transaction():
            self._store.append_history(
                instance.instance_id, instance.execution_id, len(cached.events), appended
            )
            self._store.delete_messages(consumed)
            if status is not None:
                instance.status, instance.updated = status, iso(now)
                self._store.put_instance(instance)
        self._instances.remember(instance, cached, Outcome(appended=appended))
        if status is not None:
            log.info(
                "orchestration %s suspended (instance %s)", instance.name, instance.instance_id
            )
            self._work.notify_changed()
