"""The task hub mirror: the emulator's instances and history in `<hub>Instances` and
`<hub>History` (DurableTask.AzureStorage schema), read back with azure-data-tables.

Each test uses a hub of its own in the shared Azurite account and compares the tables with
the emulator's SQLite file after the mirror says it has caught up (taskhub_tables.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from emulator import taskhub_schema
from emulator.taskhub_mirror import TaskHubMirror
from emulator.taskhub_schema import escape_partition_key, unescape_partition_key
from emulator.taskhub_writer import TaskHubWriter
from emulator.testing import RunningEmulator, run_emulator
from tests.conftest import azurite_connection_string
from tests.emulator.conftest import EMULATOR_APP
from tests.emulator.runtime_support import json_input, registry, running
from tests.emulator.taskhub_tables import MARK, assert_mirrored, partition_key, read_tables

LARGE = "A" * 40_000  # 80,000 bytes of UTF-16: over the 60 KiB a table column may hold


def new_hub() -> str:
    return f"Mirror{uuid.uuid4().hex[:10]}"


def mirror_env(**extra: str) -> dict[str, str]:
    return {"AzureWebJobsStorage": azurite_connection_string(), **extra}


async def synced(emu: RunningEmulator) -> None:
    assert emu.host.mirror is not None
    assert await asyncio.to_thread(emu.host.mirror.wait_synced, 60), "the mirror fell behind"


async def start(emu: RunningEmulator, name: str, body: Any, instance_id: str | None = None) -> str:
    params = {"id": instance_id} if instance_id else None
    response = await emu.request("POST", f"/api/start/{name}", json=body, params=params)
    assert response.status == 202, response.text
    return str(response.json()["id"])


async def test_every_event_lands_in_the_documented_schema(tmp_path: Path) -> None:
    hub, state = new_hub(), tmp_path / "state.sqlite"
    async with run_emulator(EMULATOR_APP, state, env=mirror_env(), hub_name=hub) as emu:
        chain = await start(emu, "hello_chain", [LARGE, "B"])
        counter = await start(emu, "count_with_entity", "k1")
        fan = await start(emu, "fan_out", 3)
        approval = await start(emu, "wait_for_approval", None)
        stopped = await start(emu, "wait_for_approval", None, "to-be^terminated")
        purged = await start(emu, "hello_chain", [LARGE])
        for instance_id in (chain, counter, fan, purged):
            await emu.wait_for_instance(instance_id)
        await emu.wait_until_idle()
        await emu.runtime.suspend(approval, "hold on")
        await emu.wait_until_idle()
        await emu.runtime.resume(approval, "go on")
        await emu.runtime.raise_event(approval, "approve", json.dumps("yes"))
        await emu.runtime.terminate(stopped, "no longer needed")
        for instance_id in (approval, stopped):
            await emu.wait_for_instance(instance_id)
        await synced(emu)
        before = read_tables(hub)
        assert partition_key(purged) in before.history
        assert any(name.startswith(f"{purged}/") for name in before.blobs)
        assert await emu.runtime.purge(purged) == 1
        await synced(emu)
    tables = assert_mirrored(state, hub)
    assert partition_key(purged) not in tables.instances
    assert not any(name.startswith(f"{purged}/") for name in tables.blobs)
    assert "to-be^^terminated" in tables.instances  # escaped like KeySanitation
    assert tables.instances[partition_key(chain)]["Input"].startswith(tables.container_url)
    assert tables.event_types() >= {
        "OrchestratorStarted",
        "OrchestratorCompleted",
        "ExecutionStarted",
        "ExecutionCompleted",
        "ExecutionTerminated",
        "ExecutionSuspended",
        "ExecutionResumed",
        "TaskScheduled",
        "TaskCompleted",
        "EventSent",
        "EventRaised",
    }
    assert json.loads(tables.instances["@counter@k1"]["Input"]) == {"exists": True, "state": "5"}


async def test_a_restart_leaves_the_tables_as_sqlite_says(tmp_path: Path) -> None:
    hub, state = new_hub(), tmp_path / "state.sqlite"
    async with run_emulator(EMULATOR_APP, state, env=mirror_env(), hub_name=hub) as emu:
        first = await start(emu, "hello_chain", [LARGE])
        kept = await start(emu, "hello_chain", ["kept"])
        for instance_id in (first, kept):
            await emu.wait_for_instance(instance_id)
        await synced(emu)
    # While the mirror is off, the state moves on: a purge, a new instance, an entity.
    off = mirror_env(EMULATOR_TASKHUB_MIRROR="false")
    async with run_emulator(EMULATOR_APP, state, env=off, hub_name=hub) as emu:
        assert emu.host.mirror is None
        assert await emu.runtime.purge(first) == 1
        later = await start(emu, "count_with_entity", "k2")
        await emu.wait_for_instance(later)
    # And the mirror's own rows are damaged: a stray row of a later sequence number, and an
    # instance SQLite no longer has (both with the mirror's mark: rows it wrote earlier).
    tables = TableServiceClient.from_connection_string(azurite_connection_string())
    history = tables.get_table_client(f"{hub}History")
    stray = {"PartitionKey": partition_key(kept), "RowKey": f"{99:016X}", "ExecutionId": "old"}
    history.upsert_entity({**stray, "EventType": "OrchestratorStarted", "EventId": -1, MARK: True})
    tables.get_table_client(f"{hub}Instances").upsert_entity(
        {"PartitionKey": "ghost", "RowKey": "", "RuntimeStatus": "Running", MARK: True}
    )
    async with run_emulator(EMULATOR_APP, state, env=mirror_env(), hub_name=hub) as emu:
        await synced(emu)
        assert emu.host.mirror is not None and emu.host.mirror.stats.resyncs == 1
    found = assert_mirrored(state, hub)
    assert partition_key(first) not in found.instances and "ghost" not in found.instances
    assert partition_key(later) in found.instances and "@counter@k2" in found.instances


FOREIGN_CASES = ["an instance row", "a history row in a partition it writes", "a sentinel"]


@pytest.mark.parametrize("case", FOREIGN_CASES)
async def test_a_row_the_mirror_did_not_write_survives_and_turns_the_mirror_off(
    tmp_path: Path, case: str
) -> None:
    """The account may be a real one, whose task hub of the same name a real Functions app
    keeps: a row without the mirror's mark is never overwritten or deleted; the mirror turns
    itself off, loudly, instead."""
    hub, state = new_hub(), tmp_path / "state.sqlite"
    tables = TableServiceClient.from_connection_string(azurite_connection_string())
    instances = tables.create_table(f"{hub}Instances")
    history = tables.create_table(f"{hub}History")
    # A real app's instance with the id the emulator is about to use (a deterministic id).
    real = {"PartitionKey": "same-id", "ExecutionId": "real-execution"}
    if case == "an instance row":
        foreign = {**real, "RowKey": "", "RuntimeStatus": "Running", "Name": "hello_chain"}
        written = instances
    elif case == "a sentinel":
        foreign = {**real, "RowKey": "sentinel", "IsCheckpointComplete": True}
        written = history
    else:
        foreign = {**real, "RowKey": f"{0:016X}", "EventType": "OrchestratorStarted"}
        written = history
    written.create_entity(foreign)
    async with run_emulator(EMULATOR_APP, state, env=mirror_env(), hub_name=hub) as emu:
        mirror = emu.host.mirror
        assert mirror is not None
        await emu.wait_for_instance(await start(emu, "hello_chain", ["x"], "same-id"))
        await emu.wait_for_instance(await start(emu, "hello_chain", ["y"], "other-id"))
        await synced(emu)
        off = mirror.off
    assert "did not write" in off and f"{hub}" in off and "same-id" in off, off
    kept = written.get_entity("same-id", foreign["RowKey"])
    assert {k: kept[k] for k in foreign} == foreign and MARK not in kept
    if case != "an instance row":  # nothing was added beside it either
        with pytest.raises(ResourceNotFoundError):
            instances.get_entity("same-id", "")
    # It went off before writing anything: "same-id" is the first change it handles.
    rows = [*instances.list_entities(), *history.list_entities()]
    assert [r for r in rows if MARK in r] == []


async def test_a_foreign_row_written_while_the_mirror_runs_survives_too(tmp_path: Path) -> None:
    """A real app that writes an instance of the same id after the mirror's start check:
    the mirror inserts into a partition it believes new, so it finds the row rather than
    replacing it, and turns itself off."""
    hub, state = new_hub(), tmp_path / "state.sqlite"
    tables = TableServiceClient.from_connection_string(azurite_connection_string())
    async with run_emulator(EMULATOR_APP, state, env=mirror_env(), hub_name=hub) as emu:
        mirror = emu.host.mirror
        assert mirror is not None
        await emu.wait_for_instance(await start(emu, "hello_chain", ["y"], "before"))
        await synced(emu)
        assert mirror.off == ""
        foreign = {"PartitionKey": "same-id", "RowKey": "", "RuntimeStatus": "Running"}
        tables.get_table_client(f"{hub}Instances").create_entity(foreign)
        await emu.wait_for_instance(await start(emu, "hello_chain", ["x"], "same-id"))
        await synced(emu)
        off = mirror.off
    assert "did not write" in off and "same-id" in off, off
    found = read_tables(hub)
    kept = found.instances["same-id"]
    assert {k: kept[k] for k in foreign} == foreign and MARK not in kept
    assert found.instances["before"][MARK] is True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StorageGate:
    """A TCP relay to Azurite's table port that refuses connections until opened."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextlib.asynccontextmanager
async def gated_connection() -> AsyncIterator[tuple[StorageGate, str]]:
    real = azurite_connection_string()
    table_port = int(real.split("TableEndpoint=http://127.0.0.1:")[1].split("/")[0])
    gate = StorageGate(table_port)
    try:
        yield gate, real.replace(f":{table_port}/", f":{gate.port}/")
    finally:
        await gate.close()


def chain(context: Any) -> Any:
    first = yield context.call_activity("double", context.get_input())
    return (yield context.call_activity("double", first))


@pytest.mark.slow
async def test_storage_down_never_holds_the_runtime_and_the_mirror_catches_up(
    tmp_path: Path,
) -> None:
    hub, state = new_hub(), tmp_path / "state.sqlite"
    functions = registry(orchestrators={"chain": chain}, activities={"double": lambda n: 2 * n})
    async with gated_connection() as (gate, connection):
        mirror = TaskHubMirror(state, hub, connection, max_pending=2)
        async with running(functions, state, on_commit=mirror.changed) as runtime:
            mirror.start()
            try:
                ids = [await runtime.start_new("chain", f"c{n}", json_input(n)) for n in range(6)]
                outputs = [(await runtime.wait_for_instance(i))["output"] for i in ids]
                assert outputs == [4 * n for n in range(6)]  # done while storage is down
                assert mirror.pending() <= 2
                for _ in range(200):  # the writer reports what it dropped and its failures
                    if mirror.stats.dropped and mirror.stats.failures:
                        break
                    await asyncio.sleep(0.1)
                assert mirror.stats.dropped > 0 and mirror.stats.failures > 0
                assert not await asyncio.to_thread(mirror.wait_synced, 1)
                await gate.open()
                assert await asyncio.to_thread(mirror.wait_synced, 60)
                assert mirror.stats.resyncs == 1  # the first one also repairs what was dropped
            finally:
                await asyncio.to_thread(mirror.stop)
    assert_mirrored(state, hub)


def test_partition_keys_are_escaped_like_key_sanitation() -> None:
    instance_id = "a^b/c\\d#e?f\x01g\x85"
    escaped = escape_partition_key(instance_id)
    assert escaped == "a^^b^0c^1d^2e^3f^\u00c1g^\u0145"
    assert escaped == partition_key(instance_id)  # the tests' own reading of KeySanitation
    assert unescape_partition_key(escaped) == instance_id


async def test_rows_the_service_refuses_are_counted_and_do_not_hold_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row the table service will never take (here: a value kept inline over its 64 KiB
    limit) is logged and counted, not retried forever; the other instances are written."""
    monkeypatch.setattr(taskhub_schema, "MAX_PROPERTY_BYTES", 10**9)
    hub, state = new_hub(), tmp_path / "state.sqlite"
    functions = registry(orchestrators={"chain": chain}, activities={"double": lambda n: 2 * n})
    writer = TaskHubWriter(state, hub, azurite_connection_string())  # in this process
    async with running(functions, state, on_commit=writer.changed) as runtime:
        writer.start()
        try:
            small = await runtime.start_new("chain", "small", json_input(1))
            large = await runtime.start_new("chain", "large", json_input(LARGE))
            for instance_id in (small, large):
                await runtime.wait_for_instance(instance_id)
            assert await asyncio.to_thread(writer.wait_synced, 60)
        finally:
            await asyncio.to_thread(writer.stop)
    assert writer.stats.refused >= 1
    tables = read_tables(hub)
    assert tables.instances["small"]["RuntimeStatus"] == "Completed"
