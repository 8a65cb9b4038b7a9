"""DTFx history events as the extension serializes them, and their reshaping for status queries.

Events are plain dicts with DTFx property names (`EventType` as an integer), exactly what the
orchestrator receives in its context JSON (protocol 2.2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

Event = dict[str, Any]


class EventType(IntEnum):
    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20


class Status(IntEnum):
    """DTFx OrchestrationStatus; stored and reported by name."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6
    Suspended = 7


TERMINAL_STATUSES = frozenset(
    s.name for s in (Status.Completed, Status.Failed, Status.Terminated, Status.Canceled)
)
SCHEDULING_EVENTS = frozenset(
    {
        EventType.TaskScheduled,
        EventType.SubOrchestrationInstanceCreated,
        EventType.TimerCreated,
        EventType.EventSent,
    }
)
_SCHEDULING_INTS = frozenset(int(k) for k in SCHEDULING_EVENTS)


def iso(when: datetime) -> str:
    """Timestamp text as in history: UTC, seven fractional digits like .NET's round-trip
    format (the seventh always 0: Python keeps microseconds), `Z`."""
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    return when.replace(tzinfo=None).isoformat(timespec="microseconds") + "0Z"


def iso_seconds(when: datetime) -> str:
    """Timestamp text of status payloads (`yyyy-MM-ddTHH:mm:ssZ`)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parses history/action timestamps (up to 7 fractional digits, `Z` or offset)."""
    text = text.strip().replace("Z", "+00:00")
    head, sep, rest = text.partition(".")
    if sep:
        digits = "".join(c for c in rest if c.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# Events stored with IsPlayed false. DTFx's executor sets IsPlayed on every event it processes
# (`TaskOrchestrationExecutor.ExecuteCore`), but these are never processed before they are
# stored: OrchestratorStarted is skipped, the others are created from the orchestrator's
# actions after it ran. The extension builds the context JSON from the stored flags.
_STORED_UNPLAYED = frozenset(
    int(k)
    for k in (
        EventType.OrchestratorStarted,
        EventType.OrchestratorCompleted,
        EventType.TaskScheduled,
        EventType.SubOrchestrationInstanceCreated,
        EventType.TimerCreated,
        EventType.EventSent,
        EventType.ExecutionCompleted,
        EventType.ContinueAsNew,
    )
)


def recorded(events: list[Event]) -> list[Event]:
    """The events of an episode as they are stored: IsPlayed true for those it processed."""
    return [{**e, "IsPlayed": e["EventType"] not in _STORED_UNPLAYED} for e in events]


def scheduling_count(events: list[Event]) -> int:
    """How many sequence ids a replay of these events allocates (one per scheduling event)."""
    return sum(1 for e in events if e["EventType"] in _SCHEDULING_INTS)


def event(kind: EventType, when: datetime, event_id: int = -1, **fields: Any) -> Event:
    return {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": iso(when),
        **fields,
    }


def execution_started(
    when: datetime,
    *,
    instance_id: str,
    execution_id: str,
    name: str,
    version: str | None,
    input_text: str | None,
    parent: dict[str, Any] | None,
    generation: int = 0,
) -> Event:
    return event(
        EventType.ExecutionStarted,
        when,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Name=name,
        Version=version or "",
        Input=input_text,
        Tags=None,
        Correlation=None,
        ScheduledStartTime=None,
        Generation=generation,
    )


def execution_completed(
    when: datetime,
    status: Status,
    result: str | None,
    failure: dict[str, Any] | None = None,
    event_id: int = -1,
) -> Event:
    """`ExecutionCompleted`; its EventId is the next sequence id (DTFx `CompleteOrchestration`
    takes `idCounter++`)."""
    return event(
        EventType.ExecutionCompleted,
        when,
        event_id,
        OrchestrationStatus=int(status),
        Result=result,
        FailureDetails=failure,
    )


def failure_details(error_type: str, message: str) -> dict[str, Any]:
    return {"ErrorType": error_type, "ErrorMessage": message, "StackTrace": None}


# --- reshaping for the status payload (protocol 4.2) ---------------------------------------

_COMPLETIONS = {
    EventType.TaskCompleted,
    EventType.TaskFailed,
    EventType.SubOrchestrationInstanceCompleted,
    EventType.SubOrchestrationInstanceFailed,
}
_DROPPED = {EventType.OrchestratorStarted, EventType.OrchestratorCompleted}
_SCHEDULES_FUNCTIONS = {EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated}
_REMOVED_KEYS = ("EventId", "IsPlayed", "TimerId")


def reshape_history(events: list[Event], show_output: bool) -> list[dict[str, Any]]:
    """History as `DurableClient.GetDurableOrchestrationStatusAsync` returns it."""
    scheduled = {e["EventId"]: e for e in events if e["EventType"] in _SCHEDULES_FUNCTIONS}
    matched = {e["TaskScheduledId"] for e in events if e["EventType"] in _COMPLETIONS}
    shaped: list[dict[str, Any]] = []
    for e in events:
        kind = EventType(e["EventType"])
        if kind in _DROPPED or (kind in _SCHEDULES_FUNCTIONS and e["EventId"] in matched):
            continue
        shaped.append(_reshape_one(e, kind, scheduled, show_output))
    return shaped


def _reshape_one(
    e: Event, kind: EventType, scheduled: dict[int, Event], show_output: bool
) -> dict[str, Any]:
    out = {k: v for k, v in e.items() if k not in _REMOVED_KEYS}
    out["EventType"] = kind.name
    if kind in _COMPLETIONS:
        origin = scheduled.get(e.get("TaskScheduledId", -2))
        if origin is not None:
            out["FunctionName"] = origin.get("Name")
            out["ScheduledTime"] = origin.get("Timestamp")
    if "OrchestrationStatus" in out and isinstance(out["OrchestrationStatus"], int):
        out["OrchestrationStatus"] = Status(out["OrchestrationStatus"]).name
    if not show_output:
        out.pop("Result", None)
    elif isinstance(out.get("Result"), str):
        out["Result"] = json_value(out["Result"])
    return out


def json_value(text: str | None) -> Any:
    """A stored JSON text as a value; text that is not JSON stays a string (like ParseToJToken)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
