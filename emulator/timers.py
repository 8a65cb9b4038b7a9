"""Timer triggers: NCRONTAB (six fields, seconds first) or TimeSpan schedules.

Each function runs in its own loop, so one run at a time. Sleeping goes through the Clock, so a
virtual clock drives schedules in tests. With the schedule monitor on (Azure's default for
intervals of a minute or more), the next due time is saved beside the state file; a run missed
while the emulator was down fires once at start with `IsPastDue` true.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter
from croniter import croniter

from emulator.clock import Clock
from emulator.function_log import logged_invocation
from emulator.invokers import Invoker, InvokerFactory

log = logging.getLogger("emulator")

_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})")


def _time_zone() -> Any:
    name = os.environ.get("WEBSITE_TIME_ZONE")
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("WEBSITE_TIME_ZONE=%s is not an IANA time zone; using UTC", name)
        return UTC


class Schedule:
    """`next_after(t)`: the first occurrence strictly after t."""

    def __init__(self, expression: str) -> None:
        expression = expression.strip()
        if len(expression) > 2 and expression.startswith("%") and expression.endswith("%"):
            expression = os.environ.get(expression[1:-1], "")
        self.expression = expression
        span = _TIMESPAN.fullmatch(expression)
        self._interval: timedelta | None = None
        if span:
            days, hours, minutes, seconds = (int(x or 0) for x in span.groups())
            self._interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if self._interval <= timedelta(0):
                raise ValueError(f"timer schedule {expression!r} is not positive")
        elif len(expression.split()) != 6 or not croniter.is_valid(
            expression, second_at_beginning=True
        ):
            raise ValueError(f"timer schedule {expression!r} is not a six-field NCRONTAB")
        self._zone = _time_zone()

    def next_after(self, when: datetime) -> datetime:
        if self._interval is not None:
            return when + self._interval
        local = when.astimezone(self._zone)
        found = croniter(self.expression, local, second_at_beginning=True).get_next(datetime)
        return found.astimezone(UTC)

    def interval(self, when: datetime) -> timedelta:
        first = self.next_after(when)
        return self.next_after(first) - first


class ScheduleStatusStore:
    """Last/Next/LastUpdated per timer function, in a small JSON file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._data: dict[str, dict[str, str]] = {}
        if path is not None and path.is_file():
            with contextlib.suppress(OSError, ValueError):
                self._data = json.loads(path.read_text(encoding="utf-8"))

    def get(self, name: str) -> dict[str, str] | None:
        return self._data.get(name)

    def put(self, name: str, status: dict[str, str]) -> None:
        self._data[name] = status
        if self._path is None:
            return
        temp = self._path.with_suffix(self._path.suffix + ".tmp")
        temp.write_text(json.dumps(self._data, indent=1), encoding="utf-8")
        temp.replace(self._path)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class TimerFunction:
    name: str
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool
    invoker: Invoker


def build_timer_functions(functions: list[Any], factory: InvokerFactory) -> list[TimerFunction]:
    built = []
    now = datetime.now(UTC)
    for function in functions:
        trigger = function.get_trigger()
        schedule = Schedule(trigger.schedule)
        monitor = trigger.use_monitor
        if monitor is None:
            monitor = schedule.interval(now) >= timedelta(minutes=1)
        built.append(
            TimerFunction(
                name=function.get_function_name(),
                schedule=schedule,
                run_on_startup=bool(trigger.run_on_startup),
                use_monitor=bool(monitor),
                invoker=factory.make(function),
            )
        )
    return built


class TimerScheduler:
    def __init__(
        self, functions: list[TimerFunction], clock: Clock, store: ScheduleStatusStore
    ) -> None:
        self.functions = functions
        self._clock = clock
        self._store = store
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for function in self.functions:
            task = asyncio.get_running_loop().create_task(self._run_forever(function))
            self._tasks.append(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _run_forever(self, function: TimerFunction) -> None:
        try:
            await self._schedule_loop(function)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer trigger %s stopped", function.name)

    async def _schedule_loop(self, function: TimerFunction) -> None:
        due = self._missed_due(function)
        if function.run_on_startup or due is not None:
            await self._fire(function, past_due=due is not None, last=due)
        while True:
            next_due = function.schedule.next_after(self._clock.now())
            self._remember(function, last=None, next_due=next_due)
            await self._clock.sleep_until(next_due)
            await self._fire(function, past_due=False, last=next_due)

    def _missed_due(self, function: TimerFunction) -> datetime | None:
        if not function.use_monitor:
            return None
        status = self._store.get(function.name) or {}
        due = _parse(status.get("Next"))
        return due if due is not None and due <= self._clock.now() else None

    def _remember(self, function: TimerFunction, last: datetime | None, next_due: datetime) -> None:
        if not function.use_monitor:
            return
        previous = self._store.get(function.name) or {}
        status = {
            "Last": _iso(last)
            if last
            else previous.get("Last", _iso(datetime.min.replace(tzinfo=UTC))),
            "Next": _iso(next_due),
            "LastUpdated": _iso(self._clock.now()),
        }
        self._store.put(function.name, status)

    async def _fire(self, function: TimerFunction, past_due: bool, last: datetime | None) -> None:
        now = self._clock.now()
        next_due = function.schedule.next_after(now)
        status = {
            "Last": _iso(last or now),
            "Next": _iso(next_due),
            "LastUpdated": _iso(now),
        }
        payload = {
            "Schedule": {"AdjustForDST": True},
            "ScheduleStatus": status,
            "IsPastDue": past_due,
        }
        request = TimerRequestConverter.decode(
            meta.Datum(type="json", value=json.dumps(payload)), trigger_metadata=None
        )
        reason = f"Timer fired at {_iso(now)}" + (" (past due)" if past_due else "")
        with (
            contextlib.suppress(Exception),
            self._clock.busy(),
            logged_invocation(function.name, reason) as invocation,
        ):
            await function.invoker(request, invocation)
        self._remember(function, last=last or now, next_due=next_due)
