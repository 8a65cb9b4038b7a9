"""Emulator benchmark: what the durable runtime adds on top of the functions it runs.

1. A 1,000-activity fan-out through the runtime, against calling the same activity invoker
   1,000 times directly in this run: the difference per activity is the runtime's overhead
   (scheduling, SQLite commits, completion messages, the replays that apply them).
2. The replay of a 1,000-event history: one episode (context JSON, SDK replay, action replay,
   commit) on an instance whose history holds about 1,000 events, both with the history
   cached in memory and right after a restart (history read back from SQLite); medians of
   several runs, as the machine may be busy.
3. The task hub mirror (taskhub_mirror.py) writing to Azurite (AZURITE_*_PORT, as `make
   bench` starts it): the same 1,000-activity fan-out, and 200 two-activity chains, with and
   without the mirror, alternating, in this run; the ratio of the medians, and how long the
   mirror took after the last instance finished to have written everything.

Prints a table, then one JSON line: {"activity_overhead_ms": ..., "replay_1000_ms": ...,
"mirror_ratio_fanout": ..., "mirror_ratio_chains": ...}. Targets: <= 5 ms, <= 100 ms, and
ratios close to 1 (the mirror never holds the runtime; it shares the two cores).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import azure.durable_functions as df
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from emulator.clock import VirtualClock
from emulator.contracts import FunctionRegistry
from emulator.runtime import DurableRuntime
from emulator.store import CommitHook
from emulator.taskhub_mirror import TaskHubMirror
from tests.conftest import azurite_connection_string

FAN_OUT = 1000
REPLAY_FAN_OUT = 500  # 500 TaskScheduled + 500 TaskCompleted + framing ~ 1,010 events
TICKS = 9
RESTARTS = 3  # the after-restart replay is measured this many times (median)
CHAINS = 200
MIRROR_ROUNDS = 5  # each workload runs this many times with and without the mirror (medians)
_START = datetime(2024, 1, 1, tzinfo=UTC)


def activity_invoker(fn: Callable[[Any], Any]) -> Callable[[str], Any]:
    async def invoke(text: str) -> str:
        value = ActivityTriggerConverter.decode(
            meta.Datum(value=text, type="string"), trigger_metadata=None
        )
        return ActivityTriggerConverter.encode(fn(value), expected_type=None).value

    return invoke


def orchestrator_invoker(fn: Callable[[Any], Any]) -> Callable[[str], Any]:
    handle = df.Orchestrator.create(fn)

    async def invoke(context: str) -> str:
        return handle(context)

    return invoke


def digest(n: int) -> str:
    """The activity's own work: a little hashing."""
    data = str(n).encode() * 2000
    return hashlib.sha256(data).hexdigest()[:8]


def fan_out(ctx: Any) -> Any:
    count = ctx.get_input()
    results = yield ctx.task_all([ctx.call_activity("digest", i) for i in range(count)])
    return len(results)


def fan_out_then_tick(ctx: Any) -> Any:
    yield ctx.task_all([ctx.call_activity("digest", i) for i in range(REPLAY_FAN_OUT)])
    for _ in range(TICKS + RESTARTS):
        yield ctx.wait_for_external_event("tick")
    return "done"


def chain(ctx: Any) -> Any:
    first = yield ctx.call_activity("digest", 1)
    second = yield ctx.call_activity("digest", 2)
    return [first, second]


def registry() -> FunctionRegistry:
    return FunctionRegistry(
        orchestrators={
            "fan": orchestrator_invoker(fan_out),
            "ticks": orchestrator_invoker(fan_out_then_tick),
            "chain": orchestrator_invoker(chain),
        },
        activities={"digest": activity_invoker(digest)},
    )


async def direct_calls(functions: FunctionRegistry) -> float:
    invoker = functions.activities["digest"]
    started = time.perf_counter()
    for i in range(FAN_OUT):
        await invoker(json.dumps(i))
    return time.perf_counter() - started


def new_runtime(
    functions: FunctionRegistry, state: Path, on_commit: CommitHook | None = None
) -> DurableRuntime:
    return DurableRuntime(
        functions, state, hub_name="Bench", clock=VirtualClock(_START), on_commit=on_commit
    )


async def start_mirror(mirror: Any) -> None:
    """As at the emulator's start: the writer is up and has compared the (empty) hub."""
    if mirror:
        mirror.start()
        assert await asyncio.to_thread(mirror.wait_synced, 120), "the mirror did not start"


async def fan_out_run(functions: FunctionRegistry, state: Path, mirror: Any = None) -> float:
    runtime = new_runtime(functions, state, mirror.changed if mirror else None)
    await runtime.start()
    await start_mirror(mirror)
    try:
        started = time.perf_counter()
        instance_id = await runtime.start_new("fan", None, json.dumps(json.dumps(FAN_OUT)))
        status = await runtime.wait_for_instance(instance_id, timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.stop()
    assert status["output"] == FAN_OUT, status
    return elapsed


async def chains_run(functions: FunctionRegistry, state: Path, mirror: Any = None) -> float:
    runtime = new_runtime(functions, state, mirror.changed if mirror else None)
    await runtime.start()
    await start_mirror(mirror)
    try:
        started = time.perf_counter()
        ids = [await runtime.start_new("chain", f"chain-{n}", None) for n in range(CHAINS)]
        statuses = [await runtime.wait_for_instance(i, timeout=600) for i in ids]
        elapsed = time.perf_counter() - started
    finally:
        await runtime.stop()
    assert all(s["runtimeStatus"] == "Completed" for s in statuses)
    return elapsed


@dataclass(frozen=True)
class MirrorComparison:
    """Medians: wall time without and with the mirror, and how long the mirror needed after
    the workload finished to have written everything."""

    plain: float
    mirrored: float
    lag: float

    @property
    def ratio(self) -> float:
        return self.mirrored / self.plain

    def rows(self, workload: str) -> list[tuple[str, str]]:
        return [
            (f"{workload}, median, mirror off", f"{self.plain * 1000:.1f} ms"),
            (f"{workload}, median, mirror on", f"{self.mirrored * 1000:.1f} ms"),
            ("  ratio on/off", f"{self.ratio:.2f}"),
            ("  mirror done after the last instance", f"{self.lag * 1000:.1f} ms"),
        ]


async def with_and_without_mirror(
    workload: Any, functions: FunctionRegistry, folder: Path
) -> MirrorComparison:
    """The workload with and without the mirror, alternating which goes first."""
    plain: list[float] = []
    mirrored: list[float] = []
    lags: list[float] = []
    for round_ in range(MIRROR_ROUNDS):
        for with_mirror in (True, False) if round_ % 2 else (False, True):  # either order
            if not with_mirror:
                plain.append(await workload(functions, folder / f"plain-{round_}.db"))
                continue
            state = folder / f"mirrored-{round_}.db"
            hub = f"Bench{uuid.uuid4().hex[:12]}"
            mirror = TaskHubMirror(state, hub, azurite_connection_string())
            mirrored.append(await workload(functions, state, mirror))
            started = time.perf_counter()
            synced = await asyncio.to_thread(mirror.wait_synced, 600)
            lags.append(time.perf_counter() - started)
            await asyncio.to_thread(mirror.stop)
            assert synced and not mirror.stats.failures, mirror.stats
    return MirrorComparison(
        statistics.median(plain), statistics.median(mirrored), statistics.median(lags)
    )


async def one_tick(runtime: DurableRuntime, instance_id: str) -> float:
    started = time.perf_counter()
    await runtime.raise_event(instance_id, "tick", "null")
    await runtime.wait_until_idle(timeout=60)
    return time.perf_counter() - started


async def replay_runs(functions: FunctionRegistry, state: Path) -> tuple[int, list[float], float]:
    runtime = new_runtime(functions, state)
    await runtime.start()
    try:
        instance_id = await runtime.start_new("ticks", "replay", None)
        await runtime.wait_until_idle(timeout=600)
        events = len(runtime.get_history(instance_id))
        warm = [await one_tick(runtime, instance_id) for _ in range(TICKS - 1)]
    finally:
        await runtime.stop()
    cold = []
    for _ in range(RESTARTS):
        runtime = new_runtime(functions, state)  # a restart: the history comes back from SQLite
        await runtime.start()
        try:
            cold.append(await one_tick(runtime, instance_id))
        finally:
            await runtime.stop()
    return events, warm, statistics.median(cold)


async def sdk_alone(functions: FunctionRegistry, context: str) -> float:
    """The SDK's own share: the orchestrator invoker on the same 1,000-event context."""
    invoker = functions.orchestrators["ticks"]
    times = []
    for _ in range(TICKS):
        started = time.perf_counter()
        await invoker(context)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def capturing(functions: FunctionRegistry, seen: list[str]) -> FunctionRegistry:
    inner = functions.orchestrators["ticks"]

    async def invoke(context: str) -> str:
        seen.append(context)
        return await inner(context)

    orchestrators = {**functions.orchestrators, "ticks": invoke}
    return FunctionRegistry(orchestrators, functions.activities, functions.entities)


async def main() -> None:
    functions = registry()
    contexts: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        await direct_calls(functions)  # warm-up
        direct = await direct_calls(functions)
        through = await fan_out_run(functions, Path(folder) / "fan.db")
        replay_functions = capturing(functions, contexts)
        events, warm, cold = await replay_runs(replay_functions, Path(folder) / "replay.db")
        sdk = await sdk_alone(functions, contexts[-1])
        folder_path = Path(folder)
        fan_mirror = await with_and_without_mirror(fan_out_run, functions, folder_path)
        chains_mirror = await with_and_without_mirror(chains_run, functions, folder_path)
    overhead_ms = max(0.0, (through - direct) * 1000 / FAN_OUT)
    warm_ms, cold_ms, sdk_ms = statistics.median(warm) * 1000, cold * 1000, sdk * 1000
    replay_ms = max(warm_ms, cold_ms)
    rows = [
        ("direct activity calls (1,000)", f"{direct * 1000:.1f} ms"),
        ("fan-out through the runtime (1,000)", f"{through * 1000:.1f} ms"),
        ("overhead per activity", f"{overhead_ms:.3f} ms  (target <= 5)"),
        (f"replay, {events}-event history, cached (median)", f"{warm_ms:.1f} ms"),
        (f"replay, {events}-event history, after restart (median)", f"{cold_ms:.1f} ms"),
        ("replay_1000_ms, the larger of the two", f"{replay_ms:.1f} ms  (target <= 100)"),
        ("  of which the SDK's own replay (median)", f"{sdk_ms:.1f} ms"),
        ("  runtime share, after restart", f"{max(0.0, cold_ms - sdk_ms):.1f} ms"),
        *fan_mirror.rows("fan-out (1,000)"),
        *chains_mirror.rows(f"{CHAINS} chains"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    result = {
        "activity_overhead_ms": round(overhead_ms, 3),
        "replay_1000_ms": round(replay_ms, 1),
        "mirror_ratio_fanout": round(fan_mirror.ratio, 3),
        "mirror_ratio_chains": round(chains_mirror.ratio, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
