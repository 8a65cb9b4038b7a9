"""Writes that create, end or pause an instance, shared by episodes (orchestration.py),
control messages (control.py) and the management API (management.py): each runs inside the
caller's transaction and leaves what must follow the commit in `post`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from emulator.episode import Outcome
from emulator.history import TERMINAL_STATUSES, EventType, Status, event, execution_started, iso
from emulator.history_cache import CachedHistory, HistoryCache
from emulator.store import Instance, Store
from emulator.work import PostCommit, Work


class Instances:
    def __init__(self, store: Store, histories: HistoryCache, work: Work) -> None:
        self._store = store
        self._histories = histories
        self._work = work

    def create(
        self,
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
            parent=parent_event_field(parent),
        )
        store.send(instance_id, started, execution_id)

    def clear_work(self, instance_id: str, post: PostCommit) -> None:
        """Drops pending timers and activities; the timer loop then forgets their deadlines,
        so a virtual clock does not jump to a timer that no longer exists."""
        self._store.clear_work(instance_id)
        self._work.timers_changed_soon(post)

    def notify_parent(
        self, child: Instance, outcome: Outcome, now: datetime, post: PostCommit
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
        self._work.ready_soon(parent["instance_id"], post)

    # --- histories kept between episodes -------------------------------------------------

    def cached_history(self, instance: Instance) -> CachedHistory:
        return self._histories.get(self._store, instance.instance_id, instance.execution_id)

    def remember(self, instance: Instance, cached: CachedHistory, outcome: Outcome) -> None:
        if instance.status in TERMINAL_STATUSES:
            self._histories.forget(instance.instance_id)
        elif outcome.status == Status.ContinuedAsNew:  # the new execution starts empty
            self._histories.start(instance.instance_id, instance.execution_id)
        else:
            cached.extend(outcome.appended)

    def forget_history(self, instance_id: str) -> None:
        self._histories.forget(instance_id)


def parent_event_field(parent: dict[str, Any] | None) -> dict[str, Any] | None:
    """`ExecutionStarted.ParentInstance` from the stored link to the parent."""
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
