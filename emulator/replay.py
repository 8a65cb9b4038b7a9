"""The host side of an episode: replays the SDK's V2/V3 action list the way the extension's
`OutOfProcOrchestrationShim` does against a DTFx context (protocol 2.5, 2.6).

Each top-level action is invoked and awaited in order; every scheduling call takes the next
sequence id; history is walked event by event, scheduling events are matched against what the
walk scheduled (by EventId, type and name), completions resume the walk synchronously (so ids
allocated by retries interleave in history order, as in DTFx). What is scheduled but not yet in
history is the episode's new work.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from emulator.decisions import Decision, mismatch_message
from emulator.dtfx_tasks import Task, all_of, any_of
from emulator.history import SCHEDULING_EVENTS, Event, EventType, iso, parse_time
from emulator.scheduling_rules import HTTP_ACTIVITY, SchedulingRules

# `EventSent.Name` of every entity call or signal (EntityMessageEventNames.RequestMessageEventName)
ENTITY_MESSAGE_NAME = "op"


class NonDeterminismError(Exception):
    pass


@dataclass
class ReplayResult:
    new_decisions: list[Decision]
    continue_as_new: bool = False
    continue_as_new_input: str | None = None
    walk_finished: bool = False
    next_event_id: int = 0  # the sequence id the walk would allocate next
    # events raised after continue_as_new in this episode, for the next generation
    carried: list[Event] = field(default_factory=list)


_STARTED = int(EventType.OrchestratorStarted)
_EXECUTION_STARTED = int(EventType.ExecutionStarted)
_TASK_COMPLETED = int(EventType.TaskCompleted)
_SUB_COMPLETED = int(EventType.SubOrchestrationInstanceCompleted)
_TASK_FAILED = int(EventType.TaskFailed)
_SUB_FAILED = int(EventType.SubOrchestrationInstanceFailed)
_TIMER_FIRED = int(EventType.TimerFired)
_EVENT_RAISED = int(EventType.EventRaised)
_SCHEDULING = tuple(int(k) for k in SCHEDULING_EVENTS)


class Replayer:
    def __init__(
        self,
        instance_id: str,
        execution_id: str,
        actions: list[dict[str, Any]],
        rules: SchedulingRules,
    ) -> None:
        self._instance_id = instance_id
        self._execution_id = execution_id
        self._actions = actions
        self._rules = rules
        self._index = 0
        self._next_id = 0
        self._now: datetime | None = None
        self._decisions: dict[int, Decision] = {}
        self._open: dict[int, Task] = {}
        # pending waits per event name, newest last: an event goes to the newest (a stack, as
        # in the extension's WaitForExternalEvent and the SDK), so an abandoned wait is skipped
        self._waiters: defaultdict[str, list[Task]] = defaultdict(list)
        self._buffered: defaultdict[str, int] = defaultdict(int)
        self._walk_finished = False
        self._continue_as_new = False
        self._continue_input: str | None = None
        self._carried: list[Event] = []

    # --- history ------------------------------------------------------------------------

    def run(self, history: list[Event]) -> ReplayResult:
        """Walks the history; raises NonDeterminismError on a mismatch, RuleBroken for work
        the extension would refuse (scheduling_rules.py)."""
        handlers = {
            _STARTED: self._on_orchestrator_started,
            _EXECUTION_STARTED: self._on_execution_started,
            _TASK_COMPLETED: self._on_succeeded,
            _SUB_COMPLETED: self._on_succeeded,
            _TASK_FAILED: self._on_failed,
            _SUB_FAILED: self._on_failed,
            _TIMER_FIRED: self._on_timer_fired,
            _EVENT_RAISED: self._on_event_raised,
            **dict.fromkeys(_SCHEDULING, self._match),
        }
        for e in history:
            handler = handlers.get(e["EventType"])
            if handler is not None:
                handler(e)
        new = [d for d in self._decisions.values() if not d.recorded]
        new.sort(key=lambda d: d.event_id)
        self._rules.new_children(new)
        return ReplayResult(
            new,
            self._continue_as_new,
            self._continue_input,
            self._walk_finished,
            self._next_id,
            self._carried,
        )

    @property
    def next_event_id(self) -> int:
        return self._next_id

    def _on_orchestrator_started(self, e: Event) -> None:
        self._now = parse_time(e["Timestamp"])

    def _on_execution_started(self, e: Event) -> None:
        self._advance()

    def _on_succeeded(self, e: Event) -> None:
        self._complete(e["TaskScheduledId"], failed=False)

    def _on_failed(self, e: Event) -> None:
        self._complete(e["TaskScheduledId"], failed=True)

    def _on_timer_fired(self, e: Event) -> None:
        self._complete(e["TimerId"], failed=False)

    def _on_event_raised(self, e: Event) -> None:
        """After continue_as_new an event is kept for the next generation: DTFx
        `HandleEventRaisedEvent` with Azure Storage's default `EventBehaviourForContinueAsNew`,
        Carryover. Events raised before it stay with this generation (and are dropped)."""
        if self._continue_as_new:
            self._carried.append(e)
        else:
            self._raise(e.get("Name") or "")

    def _complete(self, event_id: int, failed: bool) -> None:
        task = self._open.pop(event_id, None)
        if task is not None:  # unknown ids (cancelled timers, duplicates) are ignored, as in DTFx
            task.finish(failed)

    def _raise(self, name: str) -> None:
        waiters = self._waiters.get(name)
        if waiters:
            waiters.pop().finish()
        else:
            self._buffered[name] += 1

    def _match(self, e: Event) -> None:
        event_id = e["EventId"]
        decision = self._decisions.get(event_id)
        if decision is not None and not decision.recorded and decision.matches(e):
            decision.recorded = True
            if decision.kind == EventType.EventSent:
                self._rekey_request(decision, e)
            return
        raise NonDeterminismError(mismatch_message(e, decision))

    def _rekey_request(self, decision: Decision, e: Event) -> None:
        recorded_id = json.loads(e["Input"]).get("id")
        planned_id = decision.work.get("request_id")
        if recorded_id and planned_id and recorded_id != planned_id:
            waiters = self._waiters.pop(planned_id, None)
            if waiters:
                self._waiters[recorded_id].extend(waiters)

    # --- the walk -----------------------------------------------------------------------

    def _advance(self) -> None:
        while self._index < len(self._actions):
            action = self._actions[self._index]
            self._index += 1
            task = self._invoke(action)
            if not task.done:
                task.then(self._advance)
                return
        self._walk_finished = True

    def _invoke(self, action: dict[str, Any]) -> Task:
        kind = action.get("actionType")
        handler = self._HANDLERS.get(kind)
        if handler is None:
            raise NonDeterminismError(f"Unsupported action type {kind!r} from the orchestrator.")
        return handler(self, action)

    def _on_activity(self, action: dict[str, Any]) -> Task:
        return self._activity(action["functionName"], action.get("input"))

    def _on_activity_retry(self, action: dict[str, Any]) -> Task:
        options = action.get("retryOptions") or {}
        self._rules.retry(action["functionName"], options)
        return self._with_retry(
            lambda: self._activity(action["functionName"], action.get("input")), options
        )

    def _on_sub(self, action: dict[str, Any]) -> Task:
        return self._sub_orchestration(action)

    def _on_sub_retry(self, action: dict[str, Any]) -> Task:
        options = action.get("retryOptions") or {}
        self._rules.retry(action["functionName"], options)
        return self._with_retry(lambda: self._sub_orchestration(action), options)

    def _on_continue_as_new(self, action: dict[str, Any]) -> Task:
        self._continue_as_new = True
        text = action.get("input")
        self._continue_input = None if text is None else json.dumps(text)
        return Task(done=True)

    def _on_timer(self, action: dict[str, Any]) -> Task:
        return self._timer(parse_time(action["fireAt"]), bool(action.get("isCanceled")))

    def _on_wait_event(self, action: dict[str, Any]) -> Task:
        task = Task()
        name = action.get("externalEventName") or ""
        if self._buffered.get(name):
            self._buffered[name] -= 1
            task.finish()
        else:
            self._waiters[name].append(task)
        return task

    def _on_call_entity(self, action: dict[str, Any]) -> Task:
        task = Task()
        request_id = self._entity_message(action, signal=False)
        self._waiters[request_id].append(task)
        return task

    def _on_signal_entity(self, action: dict[str, Any]) -> Task:
        self._entity_message(action, signal=True)
        return Task(done=True)

    def _on_http(self, action: dict[str, Any]) -> Task:
        return self._activity(HTTP_ACTIVITY, json.dumps(action.get("httpRequest")))

    def _on_when_any(self, action: dict[str, Any]) -> Task:
        return any_of([self._invoke(a) for a in action.get("compoundActions") or []])

    def _on_when_all(self, action: dict[str, Any]) -> Task:
        return all_of([self._invoke(a) for a in action.get("compoundActions") or []])

    _HANDLERS: ClassVar[dict[int, Callable[[Replayer, dict[str, Any]], Task]]] = {
        0: _on_activity,
        1: _on_activity_retry,
        2: _on_sub,
        3: _on_sub_retry,
        4: _on_continue_as_new,
        5: _on_timer,
        6: _on_wait_event,
        7: _on_call_entity,
        8: _on_http,
        9: _on_signal_entity,
        10: _on_signal_entity,
        11: _on_when_any,
        12: _on_when_all,
    }

    # --- scheduling calls (each takes the next sequence id) ----------------------------

    def _decide(self, kind: EventType, name: str | None, work: dict[str, Any]) -> int:
        event_id = self._next_id
        self._next_id += 1
        self._decisions[event_id] = Decision(event_id, kind, name, work)
        return event_id

    def _opened(self, event_id: int) -> Task:
        task = Task()
        self._open[event_id] = task
        return task

    def _activity(self, name: str, input_text: str | None) -> Task:
        self._rules.activity(name)
        work = {"kind": "activity", "name": name, "input": input_text}
        return self._opened(self._decide(EventType.TaskScheduled, name, work))

    def _sub_orchestration(self, action: dict[str, Any]) -> Task:
        event_id = self._next_id
        child_id = action.get("instanceId") or f"{self._execution_id}:{event_id}"
        text = action.get("input")
        input_text = None if text is None else json.dumps(text)
        name = action["functionName"]
        self._rules.sub_orchestration(name, child_id)
        work = {"kind": "sub", "name": name, "instance_id": child_id, "input": input_text}
        work["version"] = action.get("version") or self._rules.default_version
        self._decide(EventType.SubOrchestrationInstanceCreated, name, work)
        return self._opened(event_id)

    def _timer(self, fire_at: datetime, cancelled: bool) -> Task:
        work = {"kind": "timer", "fire_at": iso(fire_at)}
        event_id = self._decide(EventType.TimerCreated, None, work)
        task = self._opened(event_id)
        if cancelled:
            self._open.pop(event_id, None)
            task.finish(failed=True)
        return task

    def _entity_message(self, action: dict[str, Any], signal: bool) -> str:
        event_id = self._next_id
        request_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self._instance_id}/{self._execution_id}/{event_id}")
        )
        text = action.get("input")
        request = {
            "op": action.get("operation"),
            "signal": signal,
            "input": None if text is None else json.dumps(text),
            "id": request_id,
            "parent": None if signal else self._instance_id,
            "parentExecution": None if signal else self._execution_id,
            "timestamp": iso(self._now) if self._now else None,
        }
        target = action.get("instanceId") or ""
        self._rules.entity(target, signal)
        work = {"kind": "entity", "target": target, "request": request, "request_id": request_id}
        self._decide(EventType.EventSent, ENTITY_MESSAGE_NAME, work)
        return request_id

    def _with_retry(self, attempt: Callable[[], Task], options: dict[str, Any]) -> Task:
        """DTFx RetryInterceptor: a timer after every failure, one extra after the last."""
        first_ms = float(options.get("firstRetryIntervalInMilliseconds") or 0)
        max_attempts = int(options.get("maxNumberOfAttempts") or 1)
        backoff = float(options.get("backoffCoefficient") or 1.0)
        outer = Task()
        retry_count = [0]

        def start() -> None:
            task = attempt()
            task.then(lambda: attempt_done(task))

        def attempt_done(task: Task) -> None:
            if not task.failed:
                outer.finish()
                return
            last = retry_count[0] + 1 >= max_attempts
            delay_ms = 0.0 if last else first_ms * backoff ** retry_count[0]
            assert self._now is not None
            timer = self._timer(self._now + timedelta(milliseconds=delay_ms), cancelled=False)
            timer.then(lambda: timer_fired(last))

        def timer_fired(last: bool) -> None:
            retry_count[0] += 1
            if last:
                outer.finish(failed=True)
            else:
                start()

        start()
        return outer
