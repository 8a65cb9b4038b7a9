"""Durability: a runtime stopped (or killed) mid fan-out carries on from the same state file;
activities that were running run again (at-least-once)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from emulator.clock import SystemClock
from emulator.runtime import DurableRuntime
from tests.emulator.runtime_support import json_input, registry, running

WORKER = Path(__file__).with_name("crash_worker.py")


async def wait_for_pending_activities(state: Path, count: int) -> None:
    for _ in range(1000):
        with contextlib.closing(sqlite3.connect(state)) as db:
            if db.execute("SELECT count(*) FROM activities").fetchone()[0] == count:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} pending activities")


def fan_out(ctx: Any) -> Any:
    count = ctx.get_input()
    results = yield ctx.task_all([ctx.call_activity("work", i) for i in range(count)])
    return results


async def test_stopped_runtime_resumes_a_fan_out(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    calls: Counter[int] = Counter()
    gate, all_started = asyncio.Event(), asyncio.Event()

    async def work(text: str) -> str:
        n = int(text)
        calls[n] += 1
        if sum(calls.values()) == 6:
            all_started.set()
        if n % 2 and not gate.is_set():
            await gate.wait()  # odd items hang in the first runtime
        return str(n * 10)

    functions = registry({"fan": fan_out})
    functions.activities["work"] = work
    async with running(functions, state) as runtime:
        instance_id = await runtime.start_new("fan", "restart-1", json_input(6))
        await asyncio.wait_for(all_started.wait(), 30)
        first = await runtime.get_status(instance_id)

    gate.set()
    async with running(functions, state) as runtime:
        status = await runtime.wait_for_instance(instance_id)

    assert first is not None and first["runtimeStatus"] == "Running"
    assert status["output"] == [0, 10, 20, 30, 40, 50]
    assert calls == Counter({0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2})


async def test_killed_process_resumes_a_fan_out(tmp_path: Path) -> None:
    state, marks = tmp_path / "state.db", tmp_path / "marks"
    marks.mkdir()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        str(state),
        str(marks),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(1000):
            if len(list(marks.iterdir())) >= 6 or child.returncode is not None:
                break
            await asyncio.sleep(0.02)
        assert child.returncode is None, "the worker exited early"
        await wait_for_pending_activities(state, 3)  # the even items' completions committed
    finally:
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
    started_before = sorted(int(p.name.split("-")[0]) for p in marks.iterdir())

    reruns: Counter[int] = Counter()

    def work(n: int) -> int:
        reruns[n] += 1
        return n * 10

    functions = registry({"fan": fan_out}, {"work": work})
    async with running(functions, state, SystemClock()) as runtime:
        status = await runtime.wait_for_instance("crash-1", timeout=30)

    assert started_before == [0, 1, 2, 3, 4, 5]
    assert status["output"] == [0, 10, 20, 30, 40, 50]
    # the hung odd items ran again; the finished even ones were not repeated
    assert reruns == Counter({1: 1, 3: 1, 5: 1})


async def test_the_same_runtime_object_can_start_again(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def work(text: str) -> str:
        await gate.wait()
        return text

    functions = registry({"fan": fan_out})
    functions.activities["work"] = work
    runtime = DurableRuntime(functions, tmp_path / "s.db", hub_name="Again")
    await runtime.start()
    instance_id = await runtime.start_new("fan", None, json_input(2))
    await asyncio.sleep(0)
    await runtime.stop()
    gate.set()
    await runtime.start()
    try:
        status = await runtime.wait_for_instance(instance_id)
    finally:
        await runtime.stop()

    assert status["output"] == [0, 1]
