"""The task hub's Azure Storage tables, as DurableTask.AzureStorage 1.17 writes them.

What the mirror (taskhub_mirror.py) writes, so that the Durable Functions Monitor and Azure
Storage Explorer read a local task hub as they read one on Azure. Sources, in
Azure/durabletask (durabletask.azurestorage-v1.17.5, durabletask.core-v2.17.1):
- `Tracking/AzureTableTrackingStore.cs`: one `<hub>Instances` row per instance (partition key
  the escaped instance id, row key ""), one `<hub>History` row per event (row key the
  sequence number as 16 upper-case hex digits, plus `ExecutionId`), a `sentinel` row per
  instance; a string column over 60 KiB of UTF-16 moves, gzip-compressed, to a blob of
  `<hub>-largemessages` and leaves "" and a `<column>BlobName` column (`CompressLargeMessage`
  and `GetBlobName`); in the Instances row such a value is the blob's URL.
- `Tracking/TableEntityConverter.cs`: a column per `[DataMember]` of the event type,
  `Timestamp` renamed `_Timestamp`, enums by name, objects as JSON, nulls left out.
- `Tracking/KeySanitation.cs`: the partition-key escapes.
- `DurableTask.Core/History/*.cs`: the data members of each event type (below).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.history import Event, EventType, Status, parse_time
from emulator.store import Instance

SENTINEL_ROW_KEY = "sentinel"
# A column of the mirror's own on every row it writes (DTFx readers ignore columns they do
# not know). The mirror touches no row without it: the account may be a real one, whose
# task hub of the same name a real Functions app keeps (taskhub_writer.py).
MIRROR_MARK = "EmulatorMirror"
MAX_PROPERTY_BYTES = 60 * 1024  # of UTF-16, as AzureTableTrackingStore measures
LARGE_PROPERTIES = (
    "Name",
    "Input",
    "Result",
    "Output",
    "Reason",
    "Details",
    "Correlation",
    "FailureDetails",
    "Tags",
)
COMMON_MEMBERS = ("EventType", "EventId", "IsPlayed", "Timestamp")
_COMPLETION = ("OrchestrationStatus", "Result", "FailureDetails")
_FAILURE = ("TaskScheduledId", "Reason", "Details", "FailureDetails")
DATA_MEMBERS: dict[EventType, tuple[str, ...]] = {
    EventType.ExecutionStarted: (
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
    ),
    EventType.ExecutionCompleted: _COMPLETION,
    EventType.ContinueAsNew: _COMPLETION,
    EventType.ExecutionTerminated: ("Input",),
    EventType.TaskScheduled: ("Name", "Version", "Input", "ParentTraceContext"),
    EventType.TaskCompleted: ("TaskScheduledId", "Result"),
    EventType.TaskFailed: _FAILURE,
    EventType.SubOrchestrationInstanceCreated: (
        "Name",
        "Version",
        "InstanceId",
        "Input",
        "ClientSpanId",
    ),
    EventType.SubOrchestrationInstanceCompleted: ("TaskScheduledId", "Result"),
    EventType.SubOrchestrationInstanceFailed: _FAILURE,
    EventType.TimerCreated: ("FireAt",),
    EventType.TimerFired: ("TimerId", "FireAt"),
    EventType.OrchestratorStarted: (),
    EventType.OrchestratorCompleted: (),
    EventType.EventSent: ("InstanceId", "Name", "Input"),
    EventType.EventRaised: ("Name", "Input", "ParentTraceContext"),
    EventType.GenericEvent: ("Data",),
    EventType.HistoryState: ("State",),
    EventType.ExecutionSuspended: ("Reason",),
    EventType.ExecutionResumed: ("Reason",),
}
INT_MEMBERS = frozenset({"EventId", "TaskScheduledId", "TimerId", "Generation"})
TIME_MEMBERS = frozenset({"Timestamp", "FireAt", "ScheduledStartTime"})
OBJECT_MEMBERS = frozenset(
    {"OrchestrationInstance", "ParentInstance", "Tags", "FailureDetails", "ParentTraceContext"}
)
_ESCAPES = {"^": "^^", "/": "^0", "\\": "^1", "#": "^2", "?": "^3"}
_UNESCAPES = {"^": "^", "0": "/", "1": "\\", "2": "#", "3": "?"}
_CONTROL_OFFSET = ord("À")


def escape_partition_key(instance_id: str) -> str:
    out = []
    for char in instance_id:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code <= 0x1F or 0x7F <= code <= 0x9F:
            out.append("^" + chr(_CONTROL_OFFSET + code))
        else:
            out.append(char)
    return "".join(out)


def unescape_partition_key(key: str) -> str:
    out, chars = [], iter(key)
    for char in chars:
        if char != "^":
            out.append(char)
            continue
        escaped = next(chars, "")
        out.append(_UNESCAPES.get(escaped) or chr(ord(escaped) - _CONTROL_OFFSET))
    return "".join(out)


def history_row_key(seq: int) -> str:
    return f"{seq:016X}"


def large_message_container(hub_name: str) -> str:
    return f"{hub_name.lower()}-largemessages"


@dataclass
class Row:
    """A table entity, and the large values to upload (gzip) before it is written."""

    entity: dict[str, Any]
    blobs: dict[str, str] = field(default_factory=dict)  # blob name -> text


def history_row(partition: str, seq: int, execution_id: str, event: Event) -> Row:
    kind = EventType(event["EventType"])
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": history_row_key(seq),
        "ExecutionId": execution_id,
        MIRROR_MARK: True,
    }
    for name in (*COMMON_MEMBERS, *DATA_MEMBERS.get(kind, ())):
        value = _column_value(name, event.get(name))
        if value is not None:
            entity["_Timestamp" if name == "Timestamp" else name] = value
    row = Row(entity)
    for name in LARGE_PROPERTIES:
        text = entity.get(name)
        if isinstance(text, str) and is_large(text):
            blob = _blob_name(partition, entity["RowKey"], kind.name, name, execution_id)
            row.blobs[blob] = text
            entity[name] = ""
            entity[f"{name}BlobName"] = blob
    return row


def sentinel_row(partition: str, execution_id: str, final: bool, now: datetime) -> dict[str, Any]:
    """Written with each history batch (UploadHistoryBatch): the checkpoint marker, complete
    with the episode's last batch."""
    row: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": SENTINEL_ROW_KEY,
        "ExecutionId": execution_id,
        "IsCheckpointComplete": final,
        MIRROR_MARK: True,
    }
    if final:
        row["CheckpointCompletedTimestamp"] = now
    return row


def instance_row(hub_name: str, instance: Instance, container_url: str) -> Row:
    """The Instances row of an orchestration (SetNewExecutionAsync, then UpdateStateAsync)."""
    partition = escape_partition_key(instance.instance_id)
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": "",
        "ExecutionId": instance.execution_id,
        "Name": instance.name,
        "Version": instance.version or "",
        "Input": instance.input,
        "Output": instance.output,
        "CustomStatus": instance.custom_status or "null",  # as DTFx writes no status
        "CreatedTime": parse_time(instance.created),
        "LastUpdatedTime": parse_time(instance.updated),
        "CompletedTime": parse_time(instance.completed) if instance.completed else None,
        "RuntimeStatus": instance.status,
        "Generation": instance.generation,
        "Tags": "null",  # TagsSerializer.Serialize(null)
        "TaskHubName": hub_name,
        MIRROR_MARK: True,
    }
    return _with_large_values_as_urls(entity, instance.execution_id, container_url)


def entity_instance_row(
    hub_name: str, entity_id: str, exists: bool, state: str | None, updated: str, url: str
) -> Row:
    """An entity is an orchestration instance `@name@key` (named by its id) that continues
    as new after each batch, its input the scheduler state and its custom status the
    entity status (the extension's SchedulerState and EntityStatus, defaults left out).
    The emulator keeps no per-batch history for entities, so only this row is mirrored."""
    scheduler = {"exists": True, "state": state} if exists else {}
    when = parse_time(updated)
    execution_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{entity_id}@{updated}").hex
    entity: dict[str, Any] = {
        "PartitionKey": escape_partition_key(entity_id),
        "RowKey": "",
        "ExecutionId": execution_id,
        "Name": entity_id,
        "Version": "",
        "Input": json.dumps(scheduler, separators=(",", ":")),
        "CustomStatus": json.dumps({"entityExists": exists}, separators=(",", ":")),
        "CreatedTime": when,
        "LastUpdatedTime": when,
        "RuntimeStatus": Status.Running.name,
        "Generation": 0,
        "Tags": "null",
        "TaskHubName": hub_name,
        MIRROR_MARK: True,
    }
    return _with_large_values_as_urls(entity, execution_id, url)


def is_large(text: str) -> bool:
    return len(text.encode("utf-16-le")) > MAX_PROPERTY_BYTES


def _with_large_values_as_urls(entity: dict[str, Any], execution_id: str, url: str) -> Row:
    """A large Input or Output of the Instances row is the URL of a blob holding it, which
    DTFx's readers download (AzureTableTrackingStore.ConvertFromAsync)."""
    row = Row({k: v for k, v in entity.items() if v is not None})
    for name in ("Input", "Output"):
        text = row.entity.get(name)
        if isinstance(text, str) and is_large(text):
            blob = _blob_name(entity["PartitionKey"], "", name, name, execution_id)
            row.blobs[blob] = text
            row.entity[name] = f"{url.rstrip('/')}/{blob}"
    return row


def _column_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "EventType":
        return EventType(value).name
    if name == "OrchestrationStatus" and isinstance(value, int):
        return Status(value).name
    if name in TIME_MEMBERS:
        return parse_time(value) if isinstance(value, str) else value
    if name in OBJECT_MEMBERS:
        return json.dumps(value, separators=(",", ":"))
    if name in INT_MEMBERS or name == "IsPlayed":
        return value
    return value if isinstance(value, str) else json.dumps(value)


def _blob_name(partition: str, row_key: str, event_type: str, prop: str, execution_id: str) -> str:
    """`GetBlobName`'s pattern; its random part is derived here, so a rewrite after a restart
    lands on the same blob."""
    digest = hashlib.sha256(f"{execution_id}/{row_key}/{prop}".encode()).hexdigest()[:8].upper()
    return f"{partition}/history-{row_key}-{event_type}-{digest}-{prop}.json.gz"
