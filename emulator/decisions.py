"""Scheduling decisions of the action replay, and how they are checked against history.

A decision is one scheduling call (activity, timer, sub-orchestration, entity message) with the
sequence id DTFx gives it. A decision already in history must match the recorded event's type
and name (ignoring case, as DTFx does), or the replay is non-deterministic; a new one becomes a
history event and work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emulator.history import Event, EventType

_KIND_WORDS = {
    EventType.TaskScheduled: "an activity task",
    EventType.SubOrchestrationInstanceCreated: "a sub-orchestration",
    EventType.TimerCreated: "a durable timer",
    EventType.EventSent: "an entity message",
}

# plain ints: compared once per recorded event on every replay
_EVENT_SENT = int(EventType.EventSent)
_TIMER_CREATED = int(EventType.TimerCreated)


@dataclass
class Decision:
    """A scheduling call of the walk: becomes a history event (and work) when new."""

    event_id: int
    kind: EventType
    name: str | None
    work: dict[str, Any]
    recorded: bool = False

    def history_fields(self) -> dict[str, Any]:
        """The type-specific fields of its history event (built only for new decisions)."""
        work = self.work
        kind = work["kind"]
        if kind == "activity":
            return {"Name": self.name, "Version": "", "Input": json.dumps([work["input"]])}
        if kind == "timer":
            return {"FireAt": work["fire_at"]}
        if kind == "sub":
            return {
                "Name": self.name,
                "Version": work.get("version") or "",
                "InstanceId": work["instance_id"],
                "Input": work["input"],
            }
        request = json.dumps(work["request"])
        return {"InstanceId": work["target"], "Name": self.name, "Input": request}

    def matches(self, e: Event) -> bool:
        """Whether a recorded scheduling event is this decision: same type and, but for
        timers, the same `Name` ignoring case (DTFx `TaskOrchestrationContext.Handle*Event`).
        An entity message's `Name` is always "op", so its operation is not compared."""
        kind = e["EventType"]
        if kind != self.kind:
            return False
        if kind == _TIMER_CREATED:
            return True
        return (e.get("Name") or "").lower() == (self.name or "").lower()


def mismatch_message(e: Event, decision: Decision | None) -> str:
    kind = EventType(e["EventType"])
    recorded = f"{_KIND_WORDS[kind]} with sequence ID {e['EventId']} named {_label(e)!r}"
    if decision is None or decision.recorded:
        current = "hasn't (yet?) scheduled it"
    else:
        current = (
            f"scheduled {_KIND_WORDS[decision.kind]} named {_label_of(decision)!r} "
            "at that sequence ID"
        )
    return (
        f"A previous execution of this orchestration scheduled {recorded}, but the current "
        f"replay execution {current}. Was a change made to the orchestrator code after this "
        "instance had already started running?"
    )


def _label(e: Event) -> str | None:
    kind = e["EventType"]
    if kind == _EVENT_SENT:
        try:
            return json.loads(e.get("Input") or "{}").get("op")
        except ValueError:
            return None
    if kind == _TIMER_CREATED:
        return None
    return e.get("Name")


def _label_of(decision: Decision) -> str | None:
    """What the mismatch message names: the operation for an entity message (as `_label`)."""
    if decision.kind == EventType.TimerCreated:
        return None
    if decision.kind == EventType.EventSent:
        return decision.work["request"].get("op")
    return decision.name
