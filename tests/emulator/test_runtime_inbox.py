"""How an instance's inbox is consumed: in arrival order around suspend and resume, past the
read limits, and without wasted history writes and reads at continue-as-new."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from emulator import entity_dispatch, orchestration
from emulator.history import Event, EventType, event
from emulator.store import Store
from tests.emulator.runtime_support import json_input, registry, running, shape

OS, OC = ("OrchestratorStarted", -1, None, None), ("OrchestratorCompleted", -1, None, None)
SUSPENDED, RESUMED = ("ExecutionSuspended", -1, None, None), ("ExecutionResumed", -1, None, None)


def waiter(ctx: Any) -> Any:
    value = yield ctx.wait_for_external_event("go")
    done = yield ctx.call_activity("echo", value)
    return done


def functions() -> Any:
    return registry({"waiter": waiter}, {"echo": lambda v: v})


def queue_control(runtime: Any, instance_id: str, kind: EventType, reason: str) -> None:
    """Queues a suspend or resume as a racing second client would: the client API checks the
    instance's state first (a resume of a Running instance is refused, as on Azure), so these
    orders can only reach an inbox when two requests cross."""
    with runtime._store.transaction():
        runtime._store.send(instance_id, event(kind, runtime.clock.now(), Reason=reason))
    runtime._work.mark_ready(instance_id)


def inbox(runtime: Any, instance_id: str) -> list[Any]:
    return [EventType(m.body["EventType"]).name for m in runtime._store.inbox(instance_id, 100)]


async def test_suspend_and_resume_sent_together_leave_it_running(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("waiter", None, None)
        await runtime.wait_until_idle()
        # no loop turn between the two: the dispatcher reads both in one turn
        await runtime.suspend(instance_id, "pause")
        queue_control(runtime, instance_id, EventType.ExecutionResumed, "go on")
        queued = inbox(runtime, instance_id)
        await runtime.wait_until_idle()
        status = await runtime.get_status(instance_id)
        left = inbox(runtime, instance_id)
        await runtime.raise_event(instance_id, "go", '"on"')
        done = await runtime.wait_for_instance(instance_id, timeout=5)
        history = runtime.get_history(instance_id)

    assert queued == ["ExecutionSuspended", "ExecutionResumed"]
    assert status is not None and status["runtimeStatus"] == "Running"
    assert left == []
    assert done["output"] == "on"
    assert shape(history)[3:9] == [OS, SUSPENDED, OC, OS, RESUMED, OC]


async def test_resume_and_suspend_sent_together_leave_it_suspended(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("waiter", None, None)
        await runtime.wait_until_idle()
        await runtime.suspend(instance_id, "pause")
        await runtime.wait_until_idle()
        await runtime.resume(instance_id, "briefly")
        queue_control(runtime, instance_id, EventType.ExecutionSuspended, "pause again")
        await runtime.wait_until_idle()
        status = await runtime.get_status(instance_id)
        await runtime.raise_event(instance_id, "go", '"later"')
        await runtime.wait_until_idle()
        held = inbox(runtime, instance_id)
        await runtime.resume(instance_id, "go on")
        done = await runtime.wait_for_instance(instance_id, timeout=5)
        history = runtime.get_history(instance_id)

    assert status is not None and status["runtimeStatus"] == "Suspended"
    assert held == ["EventRaised"]
    assert done["output"] == "later"
    assert shape(history)[3:12] == [OS, SUSPENDED, OC, OS, RESUMED, OC, OS, SUSPENDED, OC]


async def test_messages_before_a_suspend_are_handled_first(tmp_path: Path) -> None:
    async with running(functions(), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("waiter", None, None)
        await runtime.wait_until_idle()
        await runtime.raise_event(instance_id, "go", '"first"')
        await runtime.suspend(instance_id, "pause")
        await runtime.wait_until_idle()
        status = await runtime.get_status(instance_id)
        held = inbox(runtime, instance_id)  # the activity finished while suspended
        await runtime.resume(instance_id, "go on")
        done = await runtime.wait_for_instance(instance_id, timeout=5)
        history = runtime.get_history(instance_id)

    assert status is not None and status["runtimeStatus"] == "Suspended"
    assert held == ["TaskCompleted"]
    assert done["output"] == "first"
    assert shape(history)[3:10] == [
        OS, ("EventRaised", -1, None, "go"), ("TaskScheduled", 0, None, "echo"), OC,
        OS, SUSPENDED, OC,
    ]  # fmt: skip


def collector(ctx: Any) -> Any:
    values = []
    for _ in range(7):
        value = yield ctx.wait_for_external_event("e")
        values.append(value)
    return values


async def test_orchestration_inbox_longer_than_the_read_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestration, "_INBOX_LIMIT", 3)
    async with running(registry({"collect": collector}), tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("collect", None, None)
        await runtime.wait_until_idle()
        for n in range(7):
            await runtime.raise_event(instance_id, "e", json.dumps(n))
        await runtime.wait_until_idle()
        status = await runtime.get_status(instance_id)

    assert status is not None and status["runtimeStatus"] == "Completed"
    assert status["output"] == list(range(7))


def tally(ctx: Any) -> None:
    ctx.set_state(ctx.get_state(lambda: 0) + 1)


async def test_entity_inbox_longer_than_the_batch_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entity_dispatch, "_ENTITY_BATCH_LIMIT", 2)
    async with running(registry(entities={"Tally": tally}), tmp_path / "s.db") as runtime:
        for _ in range(5):
            await runtime.signal_entity("Tally", "k", "increment", None)
        await runtime.wait_until_idle()
        state = await runtime.read_entity("Tally", "k")

    assert state == (True, "5")


def two_generations(ctx: Any) -> Any:
    generation = ctx.get_input()
    yield ctx.call_activity("echo", generation)
    if generation == 1:
        return "second generation"
    ctx.continue_as_new(1)
    return None


async def test_continue_as_new_neither_writes_nor_reads_the_old_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    appended: list[list[int]] = []
    load_texts, append_history = Store.load_history_texts, Store.append_history

    def spy_load(self: Store, instance_id: str) -> list[str]:
        loads.append(instance_id)
        return load_texts(self, instance_id)

    def spy_append(
        self: Store, instance_id: str, execution_id: str, first: int, events: Iterable[Event]
    ) -> None:
        events = list(events)
        appended.append([e["EventType"] for e in events])
        append_history(self, instance_id, execution_id, first, events)

    monkeypatch.setattr(Store, "load_history_texts", spy_load)
    monkeypatch.setattr(Store, "append_history", spy_append)
    functions = registry({"g": two_generations}, {"echo": lambda v: v})
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("g", None, json_input(0))
        status = await runtime.wait_for_instance(instance_id, timeout=5)
        loaded = list(loads)
        history = runtime.get_history(instance_id)

    assert status["output"] == "second generation"
    assert loaded == [instance_id]  # the first episode; the new execution starts from memory
    assert not any(EventType.ContinueAsNew in kinds for kinds in appended)
    assert history[1]["Generation"] == 1
    assert shape(history) == [
        OS, ("ExecutionStarted", -1, None, "g"), ("TaskScheduled", 0, None, "echo"), OC,
        OS, ("TaskCompleted", -1, 0, None), ("ExecutionCompleted", 1, None, None), OC,
    ]  # fmt: skip


async def test_a_completion_for_a_purged_instance_sends_nothing(tmp_path: Path) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(text: str) -> str:
        started.set()
        await release.wait()
        return text

    functions = registry({"waiter": waiter})
    functions.activities["echo"] = slow
    async with running(functions, tmp_path / "s.db") as runtime:
        instance_id = await runtime.start_new("waiter", None, None)
        await runtime.wait_until_idle()
        await runtime.raise_event(instance_id, "go", '"x"')
        await asyncio.wait_for(started.wait(), 5)
        await runtime.terminate(instance_id, "stop")  # a live instance is not purged
        await runtime.wait_for_instance(instance_id)
        await runtime.purge(instance_id)
        sent: list[str] = []
        send = runtime._store.send
        runtime._store.send = lambda target, *args: sent.append(target) or send(target, *args)
        release.set()
        await runtime.wait_until_idle()

    assert sent == []


def test_deleting_more_messages_than_one_statement_binds(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with store.transaction():
        for n in range(2500):
            store.send("x", {"n": n})
    ids = [m.id for m in store.inbox("x", limit=3000)]
    with store.transaction():
        store.delete_messages(ids[:2400])
    left = [m.body["n"] for m in store.inbox("x", limit=3000)]
    store.close()

    assert left == list(range(2400, 2500))
