"""Drives a real orchestrator function through the SDK's own replay, episode by episode.

Each episode hands the orchestrator a hand-built DTFx history (durable-protocol.md §2),
reads the actions it returns, and answers them from a script: activities, entity calls and
sub-orchestrations get scripted results, timers fire in order (moving the clock), external
events arrive at scripted times, retries follow the DTFx retry-interceptor history. It is
a test driver, not a host: one completion per episode, no persistence.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil import parser as date_parser

# DTFx history event types
STARTED, TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED = 0, 4, 5, 6
SUB_CREATED, SUB_COMPLETED, SUB_FAILED = 7, 8, 9
TIMER_CREATED, TIMER_FIRED, ORCH_STARTED, ORCH_COMPLETED = 10, 11, 12, 13
EVENT_SENT, EVENT_RAISED = 14, 15
# action types
CALL_ACTIVITY, CALL_RETRY, CALL_SUB, CONTINUE, TIMER, WAIT_EVENT = 0, 1, 2, 4, 5, 6
CALL_ENTITY, SIGNAL_ENTITY, WHEN_ANY, WHEN_ALL = 7, 9, 11, 12


class Failure(Exception):
    """Returned (not raised) by a responder: the task fails with this message."""


@dataclass
class Call:
    kind: str  # activity | entity | signal | sub
    name: str  # activity / orchestrator name, or the entity operation
    target: str | None  # entity id (@name@key) or sub-orchestration instance id
    input: Any
    attempt: int = 1


Responder = Callable[[Call], Any]


@dataclass
class Outcome:
    status: str  # completed | continued | failed
    output: Any = None
    continue_input: Any = None
    error: str | None = None
    custom_status: Any = None
    calls: list[Call] = field(default_factory=list)
    now: datetime | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Replay:
    def __init__(
        self,
        function: Any,
        orchestration_input: Any,
        respond: Responder,
        *,
        start: datetime,
        instance_id: str = "test-instance",
        events: list[tuple[datetime, str, Any]] | None = None,
    ) -> None:
        self.handle = function._function._func  # the SDK's Orchestrator handle
        self.respond = respond
        self.now = start
        self.instance_id = instance_id
        self.history: list[dict[str, Any]] = []
        self.pending: list[list[dict[str, Any]]] = []  # completions, one group per episode
        self.timers: list[tuple[datetime, int]] = []
        self.events = sorted(events or [], key=lambda item: item[0])
        self.next_id = 0
        self.seen_actions = 0
        self.calls: list[Call] = []
        self.input_text = json.dumps(orchestration_input)

    def event(self, kind: int, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        base = {"EventType": kind, "EventId": event_id, "IsPlayed": False}
        return {**base, "Timestamp": _iso(self.now), **fields}

    def run(self, max_episodes: int = 500) -> Outcome:
        started = self.event(
            STARTED,
            Name="orchestrator",
            Version="",
            Input=self.input_text,
            OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": "e1"},
        )
        new_events = [self.event(ORCH_STARTED), started]
        for _ in range(max_episodes):
            outcome = self.episode(new_events)
            if outcome is not None:
                outcome.calls, outcome.now = self.calls, self.now
                return outcome
            new_events = [self.event(ORCH_STARTED), *self.next_completions()]
        raise AssertionError("the orchestration did not finish")

    def episode(self, new_events: list[dict[str, Any]]) -> Outcome | None:
        for item in self.history:
            item["IsPlayed"] = True
        self.history.extend(new_events)
        context = {
            "history": self.history,
            "input": self.input_text,
            "instanceId": self.instance_id,
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "maximumShortTimerDuration": "6.00:00:00",
            "longRunningTimerIntervalDuration": "3.00:00:00",
        }
        try:
            state = json.loads(self.handle(json.dumps(context)))
        except Exception as exc:
            return Outcome(status="failed", error=str(exc).split("\n\n$OutOfProcData$")[0])
        actions = [a for group in state.get("actions", []) for a in group]
        flat = self.flatten(actions)
        scheduled = self.schedule(flat[self.seen_actions :])
        self.seen_actions = len(flat)
        self.history.extend([*scheduled, self.event(ORCH_COMPLETED)])
        return self.finished(state, flat)

    def finished(self, state: dict[str, Any], flat: list[dict[str, Any]]) -> Outcome | None:
        custom = state.get("customStatus")
        for action in flat:
            if action["actionType"] == CONTINUE:
                data = json.loads(action["input"])
                return Outcome("continued", continue_input=data, custom_status=custom)
        if state.get("isDone"):
            return Outcome("completed", output=state.get("output"), custom_status=custom)
        return None

    def flatten(self, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        flat: list[dict[str, Any]] = []
        for action in actions:
            if action["actionType"] in (WHEN_ANY, WHEN_ALL):
                flat.extend(self.flatten(action["compoundActions"]))
            else:
                flat.append(action)
        return flat

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def schedule(self, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        scheduled: list[dict[str, Any]] = []
        completions: list[dict[str, Any]] = []
        for action in actions:
            kind = action["actionType"]
            if kind == CALL_ACTIVITY:
                scheduled.append(self.activity(action, completions, attempts=1, retry_ms=0))
            elif kind == CALL_RETRY:
                options = action["retryOptions"]
                attempts, wait = (
                    options["maxNumberOfAttempts"],
                    options["firstRetryIntervalInMilliseconds"],
                )
                scheduled.append(
                    self.activity(action, completions, attempts=attempts, retry_ms=wait)
                )
            elif kind == CALL_SUB:
                scheduled.append(self.sub_orchestration(action, completions))
            elif kind == TIMER:
                scheduled.append(self.timer(action))
            elif kind in (CALL_ENTITY, SIGNAL_ENTITY):
                scheduled.append(self.entity(action, completions, signal=kind == SIGNAL_ENTITY))
        if completions:
            self.pending.append(completions)
        return scheduled

    def activity(
        self, action: dict[str, Any], completions: list, *, attempts: int, retry_ms: int
    ) -> dict:
        name = action["functionName"]
        data = json.loads(action["input"]) if action.get("input") else None
        first = self.take_id()
        event_id = first
        for attempt in range(1, attempts + 1):
            call = Call("activity", name, None, data, attempt)
            self.calls.append(call)
            result = self.respond(call)
            if attempt > 1:
                completions.append(self.event(TASK_SCHEDULED, event_id, Name=name))
            if not isinstance(result, Failure):
                completions.append(
                    self.event(TASK_COMPLETED, TaskScheduledId=event_id, Result=json.dumps(result))
                )
                return self.event(TASK_SCHEDULED, first, Name=name)
            completions.append(
                self.event(TASK_FAILED, TaskScheduledId=event_id, Reason=str(result), Details="")
            )
            if attempts > 1:  # the retry timer (after the last attempt: DTFx's extra one)
                timer_id = self.take_id()
                fire_at = _iso(self.now + timedelta(milliseconds=retry_ms))
                completions.append(self.event(TIMER_CREATED, timer_id, FireAt=fire_at))
                completions.append(self.event(TIMER_FIRED, TimerId=timer_id, FireAt=fire_at))
                if attempt < attempts:
                    event_id = self.take_id()
        return self.event(TASK_SCHEDULED, first, Name=name)

    def sub_orchestration(self, action: dict[str, Any], completions: list) -> dict:
        event_id = self.take_id()
        data = json.loads(action["input"]) if action.get("input") else None
        call = Call("sub", action["functionName"], action.get("instanceId"), data)
        self.calls.append(call)
        result = self.respond(call)
        if isinstance(result, Failure):
            completions.append(
                self.event(SUB_FAILED, TaskScheduledId=event_id, Reason=str(result), Details="")
            )
        else:
            completions.append(
                self.event(SUB_COMPLETED, TaskScheduledId=event_id, Result=json.dumps(result))
            )
        return self.event(
            SUB_CREATED, event_id, Name=action["functionName"], InstanceId=action.get("instanceId")
        )

    def timer(self, action: dict[str, Any]) -> dict:
        event_id = self.take_id()
        if not action.get("isCanceled"):
            self.timers.append((date_parser.isoparse(action["fireAt"]), event_id))
        return self.event(TIMER_CREATED, event_id, FireAt=action["fireAt"])

    def entity(self, action: dict[str, Any], completions: list, *, signal: bool) -> dict:
        event_id = self.take_id()
        request_id = f"req-{event_id}"
        data = json.loads(action["input"]) if action.get("input") else None
        call = Call(
            "signal" if signal else "entity", action["operation"], action["instanceId"], data
        )
        self.calls.append(call)
        result = self.respond(call)
        if not signal:
            payload = json.dumps({"result": json.dumps(result)})
            completions.append(self.event(EVENT_RAISED, Name=request_id, Input=payload))
        message = json.dumps({"id": request_id, "op": action["operation"], "signal": signal})
        return self.event(
            EVENT_SENT, event_id, InstanceId=action["instanceId"], Name="op", Input=message
        )

    def next_completions(self) -> list[dict[str, Any]]:
        """Whatever is due next: pending task completions first, then the earliest of the
        next timer and the next scripted external event (the clock moves to it)."""
        if self.pending:
            return self.pending.pop(0)
        self.timers.sort()
        timer_at = self.timers[0][0] if self.timers else None
        if self.events and (timer_at is None or self.events[0][0] < timer_at):
            at, name, data = self.events.pop(0)
            self.now = max(self.now, at)
            return [self.event(EVENT_RAISED, Name=name, Input=json.dumps(data))]
        if timer_at is None:
            raise AssertionError("the orchestration waits for nothing that will happen")
        fire_at, timer_id = self.timers.pop(0)
        self.now = max(self.now, fire_at)
        return [self.event(TIMER_FIRED, TimerId=timer_id, FireAt=_iso(fire_at))]
