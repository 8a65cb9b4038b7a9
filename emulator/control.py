"""Control messages that end or pause an instance without running its orchestrator:
terminate (recorded at once, even while suspended) and suspend.

A mixin of `DurableRuntime`, like orchestration.py.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from emulator.episode import Outcome
from emulator.history import Event, EventType, Status, event, execution_completed, iso
from emulator.store import Instance, Message

if TYPE_CHECKING:
    from emulator.orchestration import PostCommit
    from emulator.runtime import DurableRuntime

log = logging.getLogger("emulator")


class ControlMixin:
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
            self._clear_work(instance.instance_id, post)
            instance.status, instance.output = "Terminated", output
            instance.updated = instance.completed = iso(now)
            self._store.put_instance(instance)
            self._notify_parent(instance, outcome, now, post)
        self._histories.forget(instance.instance_id)
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
        if not consumed and not recorded and status is None:
            return
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
