"""The task hub mirror's writer: it makes `<hub>Instances` and `<hub>History` (schema:
taskhub_schema.py) say what the emulator's SQLite file says, for the instances and entities
it is told changed. It runs in a process of its own (taskhub_mirror.py starts it; `main`
below), at a lower priority, so that its work never competes with the runtime for the
interpreter; tests may also run it in a thread.

Each changed id waits in an insertion-ordered set: changes to an instance already waiting
coalesce with it, and a short pause after a quiet spell lets a burst gather. The writer reads
the instance's committed rows from SQLite (its own connection, one snapshot) and writes what
the tables lack: new history rows in table transactions of up to 99 plus the sentinel, then
the Instances row. At most `max_pending` ids wait: past that, further ids are dropped and
counted, and a full resync follows. When storage fails or is down, the id keeps waiting and
the writer retries with a growing pause; a row the service refuses as invalid is logged and
counted, not retried. A full resync runs at every start: it compares every instance and
entity of the SQLite file and every partition of the tables, so after a restart (or changes
made while storage was away) the tables say what SQLite says.

It touches only rows it wrote. Every row it writes carries the column `EmulatorMirror`
(taskhub_schema.MIRROR_MARK). At start it checks every Instances row and every sentinel;
it reads a partition's History rows (and checks them) before it writes into a partition it
has not written this session, and before every delete; and a partition it believes new is
written with inserts, which fail rather than replace a row someone else has just written.
A row without the mark means the account holds a task hub of the same name that someone
else writes: a real Functions app, if the storage setting points at a real account. The
writer then turns itself off (logged as an error, `stats.off` says why) and writes nothing
more until the next start: overwriting or deleting those rows would corrupt the real app's
instances.

Where it differs from DurableTask.AzureStorage, knowingly: the rows of an execution replaced
by continue-as-new are deleted (DTFx overwrites them from sequence 0 and leaves longer tails,
which its readers skip by ExecutionId); entities get their Instances row only (the emulator
keeps no per-batch entity history); a large Instances value gets a blob of its own rather
than pointing at the history event's blob (readers only follow the URL).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from azure.storage.blob import BlobServiceClient, ContainerClient

from emulator.store import Instance
from emulator.taskhub_schema import (
    MIRROR_MARK,
    SENTINEL_ROW_KEY,
    Row,
    entity_instance_row,
    escape_partition_key,
    history_row,
    instance_row,
    large_message_container,
    sentinel_row,
    unescape_partition_key,
)

log = logging.getLogger("emulator")
# the storage SDK logs every request at INFO; the mirror's requests are not news
_HTTP_LOG = logging.getLogger("emulator.taskhub_writer.http")
_HTTP_LOG.setLevel(logging.WARNING)

_BATCH = 99  # history rows per table transaction, leaving room for the sentinel (100 max)
_FIRST_RETRY, _MAX_RETRY = 0.5, 10.0
_REFUSED = frozenset({400, 413})  # the service will never take these rows: no retry
_INSTANCE_SQL = ", ".join(f.name for f in fields(Instance))  # the columns are the fields


@dataclass
class MirrorStats:
    synced: int = 0  # instance and entity syncs written
    rows: int = 0  # table rows written or deleted
    dropped: int = 0  # changes dropped with a full backlog (a resync repairs them)
    failures: int = 0  # syncs that failed (retried)
    refused: int = 0  # syncs the service refused as invalid (left out until the next change)
    resyncs: int = 0
    off: str = ""  # why the writer turned itself off (a row it did not write); "" while on


class _ForeignRow(Exception):
    """A row the mirror did not write is in its way."""


def _foreign(table: str, entity: dict[str, Any]) -> _ForeignRow:
    key = f"PartitionKey={entity.get('PartitionKey')!r}, RowKey={entity.get('RowKey')!r}"
    return _ForeignRow(
        f"table {table} holds a row the emulator did not write ({key}, no {MIRROR_MARK} "
        "column): the storage account already has a task hub of this name, maybe a real "
        "Functions app's. The mirror will not overwrite or delete it and is off until the "
        "next start. Point the storage setting at a local account (Azurite), use another "
        "hub name, or set EMULATOR_TASKHUB_MIRROR=false"
    )


class _Taken(Exception):
    """An insert found a row already there: the partition is not as new as believed."""


def _ours(entity: dict[str, Any]) -> bool:
    return entity.get(MIRROR_MARK) is True


@dataclass
class _Known:
    """What the History table holds for an instance: rows 0..count-1 of one execution, or
    (stale) rows that match no execution and must go."""

    execution_id: str | None
    count: int
    stale: bool = False


class TaskHubWriter:
    def __init__(
        self,
        state_path: str | Path,
        hub_name: str,
        connection_string: str,
        *,
        max_pending: int = 10_000,
        quiet_seconds: float = 0.2,
        max_delay_seconds: float = 2.0,
    ) -> None:
        self.hub_name = hub_name
        self.stats = MirrorStats()
        self._state_path = Path(state_path)
        self._connection_string = connection_string
        self._max_pending = max_pending
        self._quiet, self._max_delay = quiet_seconds, max_delay_seconds
        self._last_change = 0.0  # when changed() last added an id
        self._cond = threading.Condition()
        self._dirty: dict[str, None] = {}  # insertion-ordered set of waiting ids
        self._busy = False
        self._resync_wanted, self._resync_done = 1, 0  # a resync at start
        self._stopping = False
        self._drain_until = 0.0
        self._known: dict[str, _Known] = {}
        self._partitions: set[str] = set()  # in the tables at the last resync
        self._owned: set[str] = set()  # partitions checked (or written) this session: ours
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._instances: TableClient | None = None
        self._history: TableClient | None = None
        self._blobs: ContainerClient | None = None
        self._container_ready = False

    @property
    def tables(self) -> tuple[str, str]:
        return f"{self.hub_name}Instances", f"{self.hub_name}History"

    # --- called by the runtime ---------------------------------------------------------

    def changed(self, ids: frozenset[str]) -> None:
        """The store's commit hook: notes the ids, never waits for storage."""
        with self._cond:
            if self.stats.off:
                return
            self._last_change = time.monotonic()
            for target in ids:
                if target in self._dirty:
                    continue
                if len(self._dirty) >= self._max_pending:
                    self.stats.dropped += 1
                    self._resync_wanted += 1
                    continue
                self._dirty[target] = None
            self._cond.notify_all()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Runs the writer in a thread of this process (tests; `main` runs it in its own)."""
        self._thread = threading.Thread(target=self.run, name="taskhub-writer", daemon=True)
        self._thread.start()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Writes what is waiting for up to `drain_seconds`; the next start's resync catches
        up with anything left."""
        with self._cond:
            self._stopping = True
            self._drain_until = time.monotonic() + drain_seconds
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(drain_seconds + 30)
            self._thread = None

    def wait_synced(self, timeout: float = 30) -> bool:
        """True once nothing waits and no resync is due (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._has_work() or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._dirty)

    def request_resync(self) -> None:
        """Changes were lost on the way here: compare everything again."""
        with self._cond:
            self._resync_wanted += 1
            self._cond.notify_all()

    # --- the writer thread ---------------------------------------------------------------

    def _has_work(self) -> bool:
        if self.stats.off:
            return False
        return bool(self._dirty) or self._resync_wanted > self._resync_done

    @property
    def off(self) -> str:
        """Why the writer turned itself off; "" while it runs."""
        return self.stats.off

    def _turn_off(self, reason: str) -> None:
        log.error("task hub mirror OFF: %s", reason)
        with self._cond:
            self.stats.off = reason
            self._dirty.clear()
            self._cond.notify_all()

    def run(self) -> None:
        delay = 0.0
        try:
            while self._next_round(delay):
                try:
                    self._round()
                except _ForeignRow as exc:  # never touch another writer's task hub
                    self._turn_off(str(exc))
                except Exception as exc:  # storage down or refusing: retry later
                    self.stats.failures += 1
                    if not delay:
                        log.warning(
                            "task hub mirror: cannot write to storage (%s); retrying, "
                            "%d instance(s) waiting",
                            _short(exc),
                            self.pending(),
                        )
                    delay = min(max(delay * 2, _FIRST_RETRY), _MAX_RETRY)
                else:
                    if delay:
                        log.info("task hub mirror: storage reachable again")
                    delay = 0.0
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
            if self._db is not None:
                self._db.close()

    def _next_round(self, delay: float) -> bool:
        """Waits until there is work (and `delay` has passed); False when it is time to stop."""
        ready_at = time.monotonic() + delay
        with self._cond:
            self._busy = False
            self._cond.notify_all()
            waiting_since = None if self._has_work() else time.monotonic()
            while True:
                now = time.monotonic()
                if self._stopping and (not self._has_work() or now >= self._drain_until):
                    return False
                if self._has_work() and waiting_since is None:
                    waiting_since = now
                start_at = max(ready_at, self._quiet_at(waiting_since, now))
                if self._has_work() and (now >= start_at or self._stopping):
                    self._busy = True
                    return True
                wait = start_at - now if self._has_work() else None
                if self._stopping:
                    wait = min(wait or self._drain_until - now, self._drain_until - now)
                self._cond.wait(wait)

    def _quiet_at(self, waiting_since: float | None, now: float) -> float:
        """While commits keep coming (the runtime is busy), the writer holds back until they
        pause for `quiet` seconds, but no longer than `max_delay` after work arrived."""
        if waiting_since is None:
            return now
        return min(self._last_change + self._quiet, waiting_since + self._max_delay)

    def _round(self) -> None:
        self._connect()
        with self._cond:
            wanted = self._resync_wanted
        if wanted > self._resync_done:
            self._resync()
            self._resync_done = wanted
        while True:
            with self._cond:
                if not self._dirty or (self._stopping and time.monotonic() >= self._drain_until):
                    return
                target = next(iter(self._dirty))
                del self._dirty[target]
            try:
                self._sync(target)
            except HttpResponseError as exc:
                self._known.pop(target, None)
                self._partitions.add(escape_partition_key(target))
                if exc.status_code not in _REFUSED:
                    with self._cond:
                        self._dirty.setdefault(target)
                    raise
                self.stats.refused += 1
                log.error(
                    "task hub mirror: storage refused the rows of %s: %s", target, _short(exc)
                )
                continue
            except _ForeignRow:
                raise
            except BaseException:
                self._known.pop(target, None)  # rediscover what the table holds
                self._partitions.add(escape_partition_key(target))
                with self._cond:
                    self._dirty.setdefault(target)
                raise
            self.stats.synced += 1

    def _connect(self) -> None:
        if self._instances is not None:
            return
        options: dict[str, Any] = {
            "logger": _HTTP_LOG,
            "retry_total": 1,
            "connection_timeout": 5,
            "read_timeout": 30,
        }
        tables = TableServiceClient.from_connection_string(self._connection_string, **options)
        instances_name, history_name = self.tables
        instances = tables.create_table_if_not_exists(instances_name)
        history = tables.create_table_if_not_exists(history_name)
        blobs = BlobServiceClient.from_connection_string(self._connection_string, **options)
        self._blobs = blobs.get_container_client(large_message_container(self.hub_name))
        self._db = sqlite3.connect(
            str(self._state_path), isolation_level=None, check_same_thread=False
        )
        self._instances, self._history = instances, history
        log.info(
            "task hub mirror: writing %s and %s at %s", instances_name, history_name, tables.url
        )

    # --- resync --------------------------------------------------------------------------

    def _resync(self) -> None:
        """Queues every id SQLite or the tables know; each is then compared afresh."""
        self.stats.resyncs += 1
        self._known.clear()
        with self._reading() as db:
            ids = {r[0] for r in db.execute("SELECT instance_id FROM instances")}
            ids |= {r[0] for r in db.execute("SELECT entity_id FROM entities")}
        self._partitions = set()
        self._owned = set()
        for table, row_key in ((self._instances, ""), (self._history, SENTINEL_ROW_KEY)):
            assert table is not None
            found = table.query_entities(
                "RowKey eq @key",
                parameters={"key": row_key},
                select=["PartitionKey", "RowKey", MIRROR_MARK],
            )
            for entity in found:
                if not _ours(entity):
                    raise _foreign(table.table_name, entity)
                self._partitions.add(entity["PartitionKey"])
                if table is self._instances:
                    self._owned.add(entity["PartitionKey"])
        ids |= {unescape_partition_key(key) for key in self._partitions}
        with self._cond:
            for target in sorted(ids):
                self._dirty.setdefault(target)

    # --- one instance or entity ----------------------------------------------------------

    def _sync(self, target: str) -> None:
        if target.startswith("@"):
            self._sync_entity(target)
        else:
            self._sync_instance(target)

    def _sync_instance(self, instance_id: str) -> None:
        partition = escape_partition_key(instance_id)
        known = self._known.get(instance_id)
        if known is None:  # ask the table only about partitions it had at the last resync
            known = self._discover(partition) if partition in self._partitions else _Known(None, 0)
        try:
            self._write_instance(instance_id, partition, known)
        except _Taken:  # rows appeared where none were expected: whose are they?
            self._check_instance_row(partition)
            self._write_instance(instance_id, partition, self._discover(partition))

    def _write_instance(self, instance_id: str, partition: str, known: _Known) -> None:
        instance, rows, first = self._read_instance(instance_id, known)
        if instance is None:
            self._delete_partition(partition)
            self._known.pop(instance_id, None)
            return
        if first == 0 and (known.count or known.stale):  # another execution, or stale rows
            self._delete_history(partition)
        self._write_history(partition, instance.execution_id, rows, insert=first == 0)
        self._write_instance_row(instance_row(self.hub_name, instance, self._blob_url()))
        self._known[instance_id] = _Known(instance.execution_id, first + len(rows))

    def _sync_entity(self, entity_id: str) -> None:
        partition = escape_partition_key(entity_id)
        with self._reading() as db:
            found = db.execute(
                "SELECT exists_, state, updated FROM entities WHERE entity_id = ?", (entity_id,)
            ).fetchone()
        if found is None:
            self._delete_partition(partition)
            return
        exists, state, updated = found
        row = entity_instance_row(
            self.hub_name, entity_id, bool(exists), state, updated, self._blob_url()
        )
        try:
            self._write_instance_row(row)
        except _Taken:
            self._check_instance_row(partition)
            self._write_instance_row(row)

    def _read_instance(
        self, instance_id: str, known: _Known
    ) -> tuple[Instance | None, list[tuple[int, str]], int]:
        """The instance and its history events from the first one the table lacks (one
        SQLite snapshot); the sequence number of the first event returned."""
        with self._reading() as db:
            found = db.execute(
                f"SELECT {_INSTANCE_SQL} FROM instances WHERE instance_id = ?",  # noqa: S608
                (instance_id,),
            ).fetchone()
            if found is None:
                return None, [], 0
            instance = Instance.from_row(found)
            total = db.execute(
                "SELECT count(*) FROM history WHERE instance_id = ?", (instance_id,)
            ).fetchone()[0]
            same = known.execution_id == instance.execution_id and not known.stale
            first = known.count if same and known.count <= total else 0
            rows = db.execute(
                "SELECT seq, event FROM history WHERE instance_id = ? AND seq >= ? ORDER BY seq",
                (instance_id, first),
            ).fetchall()
        return instance, rows, first

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot of the SQLite file (WAL: the runtime keeps writing)."""
        assert self._db is not None
        self._db.execute("BEGIN")
        try:
            yield self._db
        finally:
            self._db.execute("COMMIT")

    # --- table and blob writes -----------------------------------------------------------

    def _check_instance_row(self, partition: str) -> None:
        """Before the first write to a partition this session: its Instances row, if any,
        must be one the mirror wrote."""
        if partition in self._owned:
            return
        assert self._instances is not None
        with contextlib.suppress(ResourceNotFoundError):
            row = self._instances.get_entity(partition, "", select=["PartitionKey", MIRROR_MARK])
            if not _ours(row):
                raise _foreign(self._instances.table_name, {**row, "RowKey": ""})
        self._owned.add(partition)

    def _history_rows(self, partition: str, *columns: str) -> list[dict[str, Any]]:
        """Every History row of a partition; raises if one is not the mirror's."""
        assert self._history is not None
        found = list(
            self._history.query_entities(
                "PartitionKey eq @pk",
                parameters={"pk": partition},
                select=["PartitionKey", "RowKey", MIRROR_MARK, *columns],
            )
        )
        for entity in found:
            if not _ours(entity):
                raise _foreign(self._history.table_name, entity)
        return found

    def _discover(self, partition: str) -> _Known:
        found = self._history_rows(partition, "ExecutionId")
        events = [e for e in found if e["RowKey"] != SENTINEL_ROW_KEY]
        executions = {e.get("ExecutionId") for e in events}
        seqs = sorted(int(e["RowKey"], 16) for e in events)
        if not events:
            return _Known(None, 0)
        if len(executions) == 1 and seqs == list(range(len(seqs))):
            return _Known(executions.pop(), len(seqs))
        return _Known(None, 0, stale=True)

    def _write_history(
        self, partition: str, execution_id: str, rows: list[tuple[int, str]], *, insert: bool
    ) -> None:
        """Appends rows to a history the table holds up to them (ours: known or read), or,
        with `insert`, writes a history from row 0 into a partition believed empty: as
        inserts, which fail (`_Taken`) rather than replace a row someone else wrote."""
        if not rows:
            return
        assert self._history is not None
        converted = [
            history_row(partition, seq, execution_id, json.loads(text)) for seq, text in rows
        ]
        self._upload(converted)
        replace, merge = {"mode": UpdateMode.REPLACE}, {"mode": UpdateMode.MERGE}
        for start in range(0, len(converted), _BATCH):
            chunk = converted[start : start + _BATCH]
            final = start + _BATCH >= len(converted)
            sentinel = sentinel_row(partition, execution_id, final, datetime.now(UTC))
            operations: list[Any]
            if insert:
                operations = [("create", r.entity) for r in chunk]
                first_batch = start == 0
                operations.append(
                    ("create", sentinel) if first_batch else ("upsert", sentinel, merge)
                )
            else:
                operations = [("upsert", r.entity, replace) for r in chunk]
                operations.append(("upsert", sentinel, merge))
            try:
                self._history.submit_transaction(operations)
            except HttpResponseError as exc:
                if exc.status_code == 409:  # a row is there already (EntityAlreadyExists)
                    raise _Taken(partition) from exc
                raise
            self.stats.rows += len(operations)

    def _write_instance_row(self, row: Row) -> None:
        """Replaces the Instances row of a partition that is ours; inserts one elsewhere
        (`_Taken` if a row is there)."""
        assert self._instances is not None
        self._upload([row])
        partition = row.entity["PartitionKey"]
        if partition in self._owned:
            self._instances.upsert_entity(row.entity, mode=UpdateMode.REPLACE)
        else:
            try:
                self._instances.create_entity(row.entity)
            except ResourceExistsError as exc:
                raise _Taken(partition) from exc
            self._owned.add(partition)
        self.stats.rows += 1

    def _delete_partition(self, partition: str) -> None:
        assert self._instances is not None
        self._delete_history(partition)
        with contextlib.suppress(ResourceNotFoundError):
            row = self._instances.get_entity(partition, "", select=["PartitionKey", MIRROR_MARK])
            if not _ours(row):
                raise _foreign(self._instances.table_name, {**row, "RowKey": ""})
            # only the version just read: a row rewritten meanwhile is left alone
            self._instances.delete_entity(
                partition,
                "",
                etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            self.stats.rows += 1
        self._owned.discard(partition)

    def _delete_history(self, partition: str) -> None:
        assert self._history is not None and self._blobs is not None
        keys = [e["RowKey"] for e in self._history_rows(partition)]
        for start in range(0, len(keys), 100):
            operations: list[Any] = [
                ("delete", {"PartitionKey": partition, "RowKey": key})
                for key in keys[start : start + 100]
            ]
            self._history.submit_transaction(operations)
            self.stats.rows += len(operations)
        with contextlib.suppress(ResourceNotFoundError):
            for blob in self._blobs.list_blobs(name_starts_with=f"{partition}/"):
                self._blobs.delete_blob(blob.name)

    def _upload(self, rows: list[Row]) -> None:
        large = {name: text for row in rows for name, text in row.blobs.items()}
        if not large:
            return
        assert self._blobs is not None
        if not self._container_ready:
            with contextlib.suppress(ResourceExistsError):
                self._blobs.create_container()
            self._container_ready = True
        for name, text in large.items():
            self._blobs.upload_blob(name, gzip.compress(text.encode("utf-8")), overwrite=True)

    def _blob_url(self) -> str:
        assert self._blobs is not None
        return self._blobs.url


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


# --- the writer process ----------------------------------------------------------------------

CONNECTION_ENV = "EMULATOR_TASKHUB_CONNECTION"  # the connection string; never on argv


class _Replies:
    """One JSON object per line on stdout, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()


def _answer_when_synced(writer: TaskHubWriter, replies: _Replies, ping: int) -> None:
    while not writer.wait_synced(3600):
        pass
    replies.send({"pong": ping, "stats": asdict(writer.stats)})


def _read_commands(writer: TaskHubWriter, replies: _Replies) -> None:
    for line in sys.stdin:
        command = json.loads(line)
        if "ids" in command:
            writer.changed(frozenset(command["ids"]))
        if command.get("resync"):
            writer.request_resync()
        if "ping" in command:
            threading.Thread(
                target=_answer_when_synced, args=(writer, replies, command["ping"]), daemon=True
            ).start()
        if "stop" in command:
            writer.stop(float(command["stop"]))
            return
    writer.stop(0)  # stdin closed: the emulator is gone


def _report_stats(writer: TaskHubWriter, replies: _Replies) -> None:
    last: dict[str, int] = {}
    while True:
        time.sleep(0.2)
        now = asdict(writer.stats)
        if now != last:
            replies.send({"stats": now})
            last = now


def main() -> None:
    """`python -m emulator.taskhub_writer STATE_FILE HUB_NAME MAX_PENDING`, the connection
    string in EMULATOR_TASKHUB_CONNECTION. Commands, one JSON object per line on stdin:
    {"ids": [...]}, {"resync": true}, {"ping": n}, {"stop": seconds}; answers {"pong": n,
    "stats": {...}} once everything it was told is written, and {"stats": {...}} as they
    change. It stops when stdin closes."""
    with contextlib.suppress(OSError):
        os.nice(10)  # the runtime comes first
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    state_path, hub_name, max_pending = sys.argv[1:4]
    connection = os.environ.pop(CONNECTION_ENV)
    writer = TaskHubWriter(state_path, hub_name, connection, max_pending=int(max_pending))
    replies = _Replies()
    threading.Thread(target=_read_commands, args=(writer, replies), daemon=True).start()
    threading.Thread(target=_report_stats, args=(writer, replies), daemon=True).start()
    writer.run()
    replies.send({"stats": asdict(writer.stats)})


if __name__ == "__main__":
    main()
