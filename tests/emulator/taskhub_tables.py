"""Reads a mirrored task hub back with azure-data-tables and checks it, row by row, against
the DurableTask.AzureStorage schema and against the emulator's SQLite state file.

The schema below is written out from the sources (Azure/durabletask at
durabletask.azurestorage-v1.17.5 and durabletask.core-v2.17.1), not taken from the mirror's
own module, so that a mistake there shows here:
- `History/*.cs`: the `[DataMember]`s of each event type; `HistoryEvent` adds EventId,
  IsPlayed, Timestamp and EventType.
- `Tracking/TableEntityConverter.cs`: `Timestamp` is stored as `_Timestamp`, enums by name,
  objects as JSON, DateTime as Edm.DateTime, int as Edm.Int32.
- `Tracking/AzureTableTrackingStore.cs`: row key `X16`, an `ExecutionId` on every row, the
  `sentinel` row, the Instances columns, and a value over 60 KiB of UTF-16 replaced by ""
  plus `<name>BlobName` naming a gzip blob in `<hub lower-cased>-largemessages` (in the
  Instances row: the blob's URL).
- `Tracking/KeySanitation.cs`: partition keys.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from emulator.history import EventType, Status, parse_time
from tests.conftest import azurite_connection_string

COMMON = {"EventType", "EventId", "IsPlayed", "_Timestamp"}
MEMBERS = {
    "ExecutionStarted": {
        "OrchestrationInstance",
        "ParentInstance",
        "Name",
        "Version",
        "Input",
        "Tags",
        "Correlation",
        "ParentTraceContext",
        "ScheduledStartTime",
        "Generation",
    },
    "ExecutionCompleted": {"OrchestrationStatus", "Result", "FailureDetails"},
    "ContinueAsNew": {"OrchestrationStatus", "Result", "FailureDetails"},
    "ExecutionTerminated": {"Input"},
    "TaskScheduled": {"Name", "Version", "Input", "ParentTraceContext"},
    "TaskCompleted": {"TaskScheduledId", "Result"},
    "TaskFailed": {"TaskScheduledId", "Reason", "Details", "FailureDetails"},
    "SubOrchestrationInstanceCreated": {"Name", "Version", "InstanceId", "Input", "ClientSpanId"},
    "SubOrchestrationInstanceCompleted": {"TaskScheduledId", "Result"},
    "SubOrchestrationInstanceFailed": {"TaskScheduledId", "Reason", "Details", "FailureDetails"},
    "TimerCreated": {"FireAt"},
    "TimerFired": {"TimerId", "FireAt"},
    "OrchestratorStarted": set(),
    "OrchestratorCompleted": set(),
    "EventSent": {"InstanceId", "Name", "Input"},
    "EventRaised": {"Name", "Input", "ParentTraceContext"},
    "ExecutionSuspended": {"Reason"},
    "ExecutionResumed": {"Reason"},
}
INTS = {"EventId", "TaskScheduledId", "TimerId", "Generation"}
TIMES = {"_Timestamp", "FireAt", "ScheduledStartTime"}
OBJECTS = {
    "OrchestrationInstance",
    "ParentInstance",
    "Tags",
    "FailureDetails",
    "ParentTraceContext",
}
BLOB_CAPABLE = {"Name", "Input", "Result", "Output", "Reason", "Details", "Correlation"}
BLOB_CAPABLE |= {"FailureDetails", "Tags"}
INSTANCE_COLUMNS = {
    "ExecutionId",
    "Name",
    "Version",
    "Input",
    "Output",
    "CustomStatus",
    "CreatedTime",
    "LastUpdatedTime",
    "CompletedTime",
    "RuntimeStatus",
    "ScheduledStartTime",
    "Generation",
    "Tags",
    "TaskHubName",
}
# The mirror's own column on each row it writes (it touches no row without it).
MARK = "EmulatorMirror"
KEYS = {"PartitionKey", "RowKey", MARK}


def partition_key(instance_id: str) -> str:
    """KeySanitation.EscapePartitionKey, written out again."""
    escapes = {"^": "^^", "/": "^0", "\\": "^1", "#": "^2", "?": "^3"}
    out = ""
    for char in instance_id:
        code = ord(char)
        if char in escapes:
            out += escapes[char]
        elif code <= 0x1F or 0x7F <= code <= 0x9F:
            out += "^" + chr(ord("À") + code)
        else:
            out += char
    return out


@dataclass
class Tables:
    """Everything one hub holds: rows by partition key, and the large-message blobs."""

    hub: str
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    blobs: dict[str, str] = field(default_factory=dict)  # name -> gunzipped text
    container_url: str = ""

    def event_types(self) -> set[str]:
        return {r["EventType"] for rows in self.history.values() for r in rows if "EventType" in r}

    def value(self, row: dict[str, Any], name: str) -> Any:
        """A column's value, read from its blob when it was too large for the table."""
        blob = row.get(f"{name}BlobName")
        if blob is not None:
            assert row[name] == "", f"{name} must be empty when it lives in {blob}"
            return self.blobs[blob]
        text = row.get(name)
        if isinstance(text, str) and text.startswith(self.container_url + "/"):
            return self.blobs[text[len(self.container_url) + 1 :]]
        return text


def read_tables(hub: str) -> Tables:
    connection = azurite_connection_string()
    service = TableServiceClient.from_connection_string(connection)
    found = Tables(hub)
    for row in service.get_table_client(f"{hub}Instances").list_entities():
        assert row["RowKey"] == "", row
        found.instances[row["PartitionKey"]] = dict(row)
    for row in service.get_table_client(f"{hub}History").list_entities():
        found.history.setdefault(row["PartitionKey"], []).append(dict(row))
    container = BlobServiceClient.from_connection_string(connection).get_container_client(
        f"{hub.lower()}-largemessages"
    )
    found.container_url = container.url.rstrip("/")
    if container.exists():
        for blob in container.list_blobs():
            data = container.download_blob(blob.name).readall()
            found.blobs[blob.name] = gzip.decompress(data).decode("utf-8")
    return found


@dataclass
class SqliteState:
    instances: dict[str, dict[str, Any]]
    history: dict[str, list[dict[str, Any]]]
    entities: dict[str, tuple[bool, str | None]]


def read_state(path: Path) -> SqliteState:
    db = sqlite3.connect(str(path))
    db.row_factory = sqlite3.Row
    try:
        instances = {r["instance_id"]: dict(r) for r in db.execute("SELECT * FROM instances")}
        history: dict[str, list[dict[str, Any]]] = {}
        for r in db.execute("SELECT instance_id, event FROM history ORDER BY instance_id, seq"):
            history.setdefault(r["instance_id"], []).append(json.loads(r["event"]))
        entities = {
            r["entity_id"]: (bool(r["exists_"]), r["state"])
            for r in db.execute("SELECT entity_id, exists_, state FROM entities")
        }
    finally:
        db.close()
    return SqliteState(instances, history, entities)


def check_history_row(tables: Tables, row: dict[str, Any], event: dict[str, Any]) -> None:
    kind = row["EventType"]
    assert kind == EventType(event["EventType"]).name, (row, event)
    allowed = KEYS | {"ExecutionId"} | COMMON | MEMBERS[kind]
    allowed |= {f"{name}BlobName" for name in MEMBERS[kind] & BLOB_CAPABLE}
    assert set(row) <= allowed, f"{kind}: columns outside the schema: {set(row) - allowed}"
    assert set(row) >= COMMON, row
    assert isinstance(row["IsPlayed"], bool) and row["IsPlayed"] == event["IsPlayed"]
    assert row["EventId"] == event["EventId"]
    for name in MEMBERS[kind] | {"_Timestamp"}:
        source = event.get("Timestamp" if name == "_Timestamp" else name)
        if source is None:
            assert name not in row, f"{kind}.{name}: null values are left out"
            continue
        stored = tables.value(row, name)
        if name in BLOB_CAPABLE:
            check_large_value_rule(row, name, stored, kind)
        if name in TIMES:
            assert isinstance(row[name], datetime), (name, row[name])
            assert stored == parse_time(source), (name, stored, source)
        elif name in INTS:
            assert isinstance(stored, int) and stored == source, (name, stored, source)
        elif name in OBJECTS:
            assert json.loads(stored) == source, (name, stored, source)
        elif name == "OrchestrationStatus":
            assert stored == Status(source).name, (stored, source)
        else:
            assert stored == source, (kind, name)


def check_large_value_rule(row: dict[str, Any], name: str, text: str, kind: str) -> None:
    """Over 60 KiB of UTF-16 goes to a blob named history-<row key>-<event>-<8 hex>-<name>."""
    large = len(text.encode("utf-16-le")) > 60 * 1024
    assert (f"{name}BlobName" in row) == large, (kind, name, len(text))
    if large:
        pattern = rf"{re.escape(row['PartitionKey'])}/history-{row['RowKey']}-{kind}-[0-9A-F]{{8}}"
        assert re.fullmatch(pattern + rf"-{name}\.json\.gz", row[f"{name}BlobName"])


def check_instance_row(
    tables: Tables, row: dict[str, Any], instance: dict[str, Any], hub: str
) -> None:
    assert set(row) <= KEYS | INSTANCE_COLUMNS | {"Timestamp"}, set(row) - INSTANCE_COLUMNS
    assert row["ExecutionId"] == instance["execution_id"]
    assert row["Name"] == instance["name"] and row["Version"] == (instance["version"] or "")
    assert row["RuntimeStatus"] == instance["status"]
    assert row["TaskHubName"] == hub and row["Tags"] == "null"
    assert row["Generation"] == instance["generation"]
    assert tables.value(row, "Input") == instance["input"]
    assert tables.value(row, "Output") == instance["output"]
    assert row["CustomStatus"] == (instance["custom_status"] or "null")
    assert row["CreatedTime"] == parse_time(instance["created"])
    assert row["LastUpdatedTime"] == parse_time(instance["updated"])
    if instance["completed"]:
        assert row["CompletedTime"] == parse_time(instance["completed"])
    else:
        assert "CompletedTime" not in row


def check_entity_row(row: dict[str, Any], entity_id: str, exists: bool, state: str | None) -> None:
    assert set(row) <= KEYS | INSTANCE_COLUMNS | {"Timestamp"}
    assert row["Name"] == entity_id and row["RuntimeStatus"] == "Running"
    expected = {"exists": True, "state": state} if exists else {}
    assert json.loads(row["Input"]) == expected
    assert json.loads(row["CustomStatus"]) == {"entityExists": exists}


def assert_mirrored(state_path: Path, hub: str) -> Tables:
    """The tables hold exactly what the SQLite file holds, in the documented schema."""
    state = read_state(state_path)
    tables = read_tables(hub)
    expected_keys = {partition_key(i) for i in [*state.instances, *state.entities]}
    assert set(tables.instances) == expected_keys
    with_history = {partition_key(i) for i, events in state.history.items() if events}
    assert set(tables.history) == with_history
    for instance_id, instance in state.instances.items():
        key = partition_key(instance_id)
        check_instance_row(tables, tables.instances[key], instance, hub)
        events = state.history.get(instance_id, [])
        rows = tables.history.get(key, [])
        sentinels = [r for r in rows if r["RowKey"] == "sentinel"]
        rows = sorted((r for r in rows if r["RowKey"] != "sentinel"), key=lambda r: r["RowKey"])
        assert [r["RowKey"] for r in rows] == [f"{seq:016X}" for seq in range(len(events))]
        for row, event in zip(rows, events, strict=True):
            assert row["ExecutionId"] == instance["execution_id"]
            check_history_row(tables, row, event)
        if events:
            (sentinel,) = sentinels
            assert sentinel["ExecutionId"] == instance["execution_id"]
            assert sentinel["IsCheckpointComplete"] is True
            assert isinstance(sentinel["CheckpointCompletedTimestamp"], datetime)
    every_row = [*tables.instances.values(), *(r for rows in tables.history.values() for r in rows)]
    assert all(row.get(MARK) is True for row in every_row), "a row without the mirror's mark"
    for entity_id, (exists, entity_state) in state.entities.items():
        check_entity_row(
            tables.instances[partition_key(entity_id)], entity_id, exists, entity_state
        )
    referenced = {
        r[f"{n}BlobName"]
        for rows in tables.history.values()
        for r in rows
        for n in BLOB_CAPABLE
        if f"{n}BlobName" in r
    }
    referenced |= {
        v[len(tables.container_url) + 1 :]
        for row in tables.instances.values()
        for v in row.values()
        if isinstance(v, str) and v.startswith(tables.container_url + "/")
    }
    assert set(tables.blobs) == referenced, "a large-message blob is missing or left over"
    return tables
