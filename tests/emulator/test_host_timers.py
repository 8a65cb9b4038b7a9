"""Timer triggers: schedules, run_on_startup, past-due runs and virtual time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.testing import run_emulator
from emulator.timers import Schedule
from tests.emulator.conftest import EMULATOR_APP, read_marks


def test_ncrontab_has_seconds_first() -> None:
    schedule = Schedule("30 */5 * * * *")
    start = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    first = schedule.next_after(start)
    assert first == datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
    assert schedule.next_after(first) == datetime(2024, 5, 1, 10, 5, 30, tzinfo=UTC)


def test_timespan_schedule() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    assert Schedule("01:30:00").next_after(start) == datetime(2024, 5, 1, 1, 30, tzinfo=UTC)
    assert Schedule("1.00:00:00").next_after(start) == datetime(2024, 5, 2, tzinfo=UTC)


def test_schedule_from_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMU_TIMER_SCHEDULE", "0 0 * * * *")
    start = datetime(2024, 5, 1, 10, 20, tzinfo=UTC)
    assert Schedule("%EMU_TIMER_SCHEDULE%").next_after(start) == datetime(
        2024, 5, 1, 11, tzinfo=UTC
    )


@pytest.mark.parametrize("bad", ["* * * * *", "not a schedule", "0 0 25 * * *", "00:00:00"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Schedule(bad)


def test_time_zone_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_TIME_ZONE", "Europe/Madrid")
    start = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)
    # 03:00 in Madrid (UTC+2 in summer) is 01:00 UTC
    assert Schedule("0 0 3 * * *").next_after(start) == datetime(2024, 7, 1, 1, 0, tzinfo=UTC)


async def _wait_for_marks(folder: Path, count: int) -> list[object]:
    """Polls (a generous limit, not a speed check) until `count` timer runs are recorded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        marks = read_marks(folder, "timer")
        if len(marks) >= count:
            return marks
        await asyncio.sleep(0.01)
    return read_marks(folder, "timer")


async def test_run_on_startup_is_not_past_due(tmp_path: Path, mark_dir: Path) -> None:
    env = {"EMULATOR_TEST_MARK_DIR": str(mark_dir)}
    async with run_emulator(EMULATOR_APP, tmp_path / "s.sqlite", env=env):
        marks = await _wait_for_marks(mark_dir, 1)
    assert len(marks) == 1
    assert marks[0]["past_due"] is False  # type: ignore[index]


async def test_missed_schedule_fires_once_as_past_due(tmp_path: Path, mark_dir: Path) -> None:
    state = tmp_path / "s.sqlite"
    status = {"Last": "2024-01-01T03:00:00Z", "Next": "2024-01-02T03:00:00Z", "LastUpdated": "x"}
    (tmp_path / "s.sqlite.timers").write_text(json.dumps({"nightly": status}))
    env = {"EMULATOR_TEST_MARK_DIR": str(mark_dir)}
    async with run_emulator(EMULATOR_APP, state, env=env):
        marks = await _wait_for_marks(mark_dir, 1)
    assert [m["past_due"] for m in marks] == [True]  # type: ignore[index]
    saved = json.loads((tmp_path / "s.sqlite.timers").read_text())["nightly"]
    assert datetime.fromisoformat(saved["Next"].replace("Z", "+00:00")) > datetime.now(UTC)


async def test_virtual_time_drives_the_schedule(tmp_path: Path, mark_dir: Path) -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    env = {"EMULATOR_TEST_MARK_DIR": str(mark_dir)}
    async with run_emulator(
        EMULATOR_APP, tmp_path / "s.sqlite", env=env, virtual_time=True, start_time=start
    ) as emu:
        marks = await _wait_for_marks(mark_dir, 4)
        now = emu.clock.now()
    # the start-up run, then one run per simulated night at 03:00
    lasts = [m["status"]["Last"] for m in marks[:4]]  # type: ignore[index]
    assert lasts[1:] == ["2030-01-02T03:00:00Z", "2030-01-03T03:00:00Z", "2030-01-04T03:00:00Z"]
    assert now >= datetime(2030, 1, 4, 3, 0, tzinfo=UTC)


async def test_timer_function_with_a_durable_client(tmp_path: Path) -> None:
    env = {"EMULATOR_TEST_SINGLETON_ID": "singleton-1"}
    async with run_emulator(EMULATOR_APP, tmp_path / "s.sqlite", env=env) as emu:
        status = await emu.wait_for_instance("singleton-1")
    assert (status["runtimeStatus"], status["output"]) == ("Completed", ["Hello Timer!"])
