"""One orchestration episode: build the context JSON, invoke the SDK, replay its actions.

Pure of storage: the runtime persists what `run_episode` returns in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.contracts import OrchestratorInvoker, missing_function
from emulator.decisions import Decision
from emulator.history import (
    Event,
    EventType,
    Status,
    event,
    execution_completed,
    failure_details,
    json_value,
    recorded,
    scheduling_count,
)
from emulator.replay import NonDeterminismError, Replayer, ReplayResult
from emulator.scheduling_rules import RuleBroken, SchedulingRules

OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
_TIMER_FIRED = int(EventType.TimerFired)
_TIMER_CREATED = int(EventType.TimerCreated)
_CONTEXT_CONSTANTS = {
    "upperSchemaVersion": 1,
    "upperSchemaVersionNew": 2,
    "maximumShortTimerDuration": "6.00:00:00",
    "longRunningTimerIntervalDuration": "3.00:00:00",
    "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
}


@dataclass
class EpisodeInput:
    name: str
    instance_id: str
    execution_id: str
    input_text: str | None
    parent_instance_id: str | None
    past: list[Event]
    past_json: list[str]  # the past events as stored (JSON), for the context
    new_events: list[Event]
    now: datetime


@dataclass
class Outcome:
    appended: list[Event]
    decisions: list[Decision] = field(default_factory=list)
    status: Status = Status.Running
    output_text: str | None = None
    custom_status_text: str | None = None
    continue_input: str | None = None
    carried: list[Event] = field(default_factory=list)  # for the next generation
    failure_reason: str | None = None
    failure_details: str | None = None


def build_context(ep: EpisodeInput, episode: list[Event]) -> str:
    """The context JSON (protocol 2.1), reusing the cached text of past events."""
    fields = {
        "input": json_value(ep.input_text),
        "instanceId": ep.instance_id,
        "isReplaying": bool(ep.past),
        "parentInstanceId": ep.parent_instance_id,
        **_CONTEXT_CONSTANTS,
    }
    parts = [*ep.past_json, *(json.dumps(e) for e in episode)]
    return '{"history":[' + ",".join(parts) + "]," + json.dumps(fields)[1:]


async def invoke(
    invoker: OrchestratorInvoker | None, name: str, context: str
) -> tuple[dict[str, Any], str | None]:
    """(OrchestratorState dict, error text or None), following the failure contract (2.4)."""
    if invoker is None:
        return {}, missing_function(name, "orchestrator")
    try:
        text = await invoker(context)
    except Exception as exc:
        message = str(exc)
        head, found, tail = message.partition(OUT_OF_PROC_LABEL)
        if not found:
            return {}, message or type(exc).__name__
        try:
            state = json.loads(tail)
        except ValueError:
            return {}, head
        return state, state.get("error") or head
    return json.loads(text), None


async def run_episode(
    ep: EpisodeInput, invoker: OrchestratorInvoker | None, rules: SchedulingRules
) -> Outcome:
    new_events = _timers_fired_when_created(ep.new_events, ep.past)
    episode = [event(EventType.OrchestratorStarted, ep.now), *new_events]
    state, error = await invoke(invoker, ep.name, build_context(ep, episode))
    actions = state.get("actions") or [[]]
    flat = actions[0] if actions and isinstance(actions[0], list) else []
    custom = state.get("customStatus")
    custom_text = json.dumps(custom) if custom is not None else None
    try:
        rules.custom_status(custom)  # the shim sets it before it replays the actions
    except RuleBroken as exc:
        return _failed(ep, episode, [], str(exc), "ArgumentException", scheduling_count(ep.past))
    replayer = Replayer(ep.instance_id, ep.execution_id, flat, rules)
    try:
        replay = replayer.run([*ep.past, *episode])
    except NonDeterminismError as exc:
        reason = f"Non-Deterministic workflow detected: {exc}"
        error_type = "NonDeterministicOrchestrationException"
        return _failed(ep, episode, [], reason, error_type, replayer.next_event_id)
    except RuleBroken as exc:
        return _failed(ep, episode, [], str(exc), "ArgumentException", replayer.next_event_id)
    scheduled = [
        event(d.kind, ep.now, d.event_id, **d.history_fields()) for d in replay.new_decisions
    ]
    outcome = _closing(ep, state, error, replay, episode + scheduled)
    outcome.custom_status_text = custom_text
    return outcome


def refused_episode(ep: EpisodeInput, reason: str, error_type: str) -> Outcome:
    """The episode of an instance this worker does not run: it fails without being invoked."""
    episode = [event(EventType.OrchestratorStarted, ep.now), *ep.new_events]
    # DTFx gives this completion the count of past events as its id
    return _failed(ep, episode, [], reason, error_type, len(ep.past))


def _timers_fired_when_created(new_events: list[Event], past: list[Event]) -> list[Event]:
    """DTFx makes a `TimerFired` event when it schedules the timer, so it carries the time
    its `TimerCreated` was made (`TaskOrchestrationDispatcher.ProcessCreateTimerDecision`)."""
    if not any(e["EventType"] == _TIMER_FIRED for e in new_events):
        return new_events
    created = {e["EventId"]: e["Timestamp"] for e in past if e["EventType"] == _TIMER_CREATED}
    return [
        {**e, "Timestamp": created.get(e["TimerId"], e["Timestamp"])}
        if e["EventType"] == _TIMER_FIRED
        else e
        for e in new_events
    ]


def _closing(
    ep: EpisodeInput,
    state: dict[str, Any],
    error: str | None,
    replay: ReplayResult,
    events: list[Event],
) -> Outcome:
    """How the episode ends. Like the extension's `ScheduleDurableTaskEvents`, the SDK's
    verdict (error, done, continue-as-new) counts only once the replay of its actions has run
    to the end: while a top-level action still waits (a later hop of a long timer that lost a
    race), the instance keeps running."""
    decisions = replay.new_decisions
    completion_id = replay.next_event_id  # DTFx's CompleteOrchestration takes idCounter++
    if not replay.walk_finished or (error is None and not state.get("isDone")):
        return _closed(events, decisions, Status.Running, ep)
    if error is not None:
        reason = f"Orchestrator function '{ep.name}' failed: {error}"
        return _failed(ep, events, decisions, reason, "Exception", completion_id)
    if replay.continue_as_new:
        outcome = _closed(events, decisions, Status.ContinuedAsNew, ep)
        outcome.continue_input = replay.continue_as_new_input
        outcome.carried = replay.carried
        continued = _continued(ep.now, replay.continue_as_new_input, completion_id)
        outcome.appended.insert(-1, continued)
        return outcome
    output_text = json.dumps(state.get("output"))
    outcome = _closed(events, decisions, Status.Completed, ep)
    outcome.output_text = output_text
    completed = execution_completed(ep.now, Status.Completed, output_text, None, completion_id)
    outcome.appended.insert(-1, completed)
    return outcome


def _closed(
    events: list[Event], decisions: list[Decision], status: Status, ep: EpisodeInput
) -> Outcome:
    appended = recorded([*events, event(EventType.OrchestratorCompleted, ep.now)])
    return Outcome(appended=appended, decisions=decisions, status=status)


def _continued(now: datetime, input_text: str | None, event_id: int) -> Event:
    return event(
        EventType.ContinueAsNew,
        now,
        event_id,
        OrchestrationStatus=int(Status.ContinuedAsNew),
        Result=input_text,
        FailureDetails=None,
    )


def _failed(
    ep: EpisodeInput,
    events: list[Event],
    decisions: list[Decision],
    reason: str,
    error_type: str,
    completion_id: int,
) -> Outcome:
    details = failure_details(error_type, reason)
    completed = execution_completed(ep.now, Status.Failed, reason, details, completion_id)
    appended = recorded([*events, completed, event(EventType.OrchestratorCompleted, ep.now)])
    return Outcome(
        appended=appended,
        decisions=decisions,
        status=Status.Failed,
        output_text=json.dumps(reason),
        failure_reason=reason,
        failure_details=f"Message: {reason}",
    )
