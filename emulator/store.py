"""Durable state in one SQLite file (WAL): instances, history, inbox, activities, timers, entities.

The runtime calls this from its event loop; every method is short. `transaction()` groups the
writes of one episode (history, instance row, consumed and produced messages) into one commit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.history import Event

log = logging.getLogger("emulator")

# Called after each commit with the instance and entity ids whose rows it changed (instances,
# history, entities); it must return at once (the task hub mirror only notes the ids).
CommitHook = Callable[[frozenset[str]], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT, execution_id TEXT NOT NULL,
    status TEXT NOT NULL, input TEXT, output TEXT, custom_status TEXT,
    created TEXT NOT NULL, updated TEXT NOT NULL, completed TEXT, parent TEXT,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS instances_created ON instances (created);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL, seq INTEGER NOT NULL, execution_id TEXT NOT NULL,
    event TEXT NOT NULL, PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, execution_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_target ON inbox (target, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT
);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL, fire_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_fire_at ON timers (fire_at);
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL,
    exists_ INTEGER NOT NULL, state TEXT, updated TEXT NOT NULL
);
"""

# Bound parameters per statement: the lowest SQLITE_MAX_VARIABLE_NUMBER any SQLite has used.
_MAX_VARIABLES = 999

_INSTANCE_COLUMNS = (
    "instance_id, name, version, execution_id, status, input, output, custom_status, "
    "created, updated, completed, parent, generation"
)


@dataclass
class Instance:
    instance_id: str
    name: str
    version: str | None
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created: str
    updated: str
    completed: str | None
    parent: dict[str, Any] | None
    generation: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> Instance:
        values = list(row)
        values[11] = json.loads(values[11]) if values[11] else None
        return cls(*values)

    def as_row(self) -> tuple[Any, ...]:
        parent = json.dumps(self.parent) if self.parent else None
        return (
            self.instance_id, self.name, self.version, self.execution_id, self.status,
            self.input, self.output, self.custom_status, self.created, self.updated,
            self.completed, parent, self.generation,
        )  # fmt: skip


@dataclass
class Message:
    id: int
    target: str
    execution_id: str | None
    body: dict[str, Any]


@dataclass
class ActivityRow:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


class Store:
    def __init__(self, path: str | Path, on_commit: CommitHook | None = None) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._depth = 0
        self._on_commit = on_commit
        self._touched: set[str] = set()

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._touched.clear()
            raise
        else:
            self._db.execute("COMMIT")
            self._report_touched()
        finally:
            self._depth = 0

    def _touch(self, target: str) -> None:
        """Notes that rows of an instance or entity changed; reported once committed."""
        if self._on_commit is not None:
            self._touched.add(target)
            if not self._depth:  # autocommitted
                self._report_touched()

    def _report_touched(self) -> None:
        touched, self._touched = frozenset(self._touched), set()
        if touched and self._on_commit is not None:
            try:
                self._on_commit(touched)
            except Exception:
                log.exception("the commit hook failed; the state itself is committed")

    # --- instances -----------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> Instance | None:
        row = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?",  # noqa: S608
            (instance_id,),
        ).fetchone()
        return Instance.from_row(row) if row else None

    def put_instance(self, instance: Instance) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) "  # noqa: S608
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            instance.as_row(),
        )
        self._touch(instance.instance_id)

    def query_instances(
        self, created_from: str | None, created_to: str | None, prefix: str | None
    ) -> list[Instance]:
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE 1=1"  # noqa: S608
        args: list[Any] = []
        if created_from:
            sql += " AND created >= ?"
            args.append(created_from)
        if created_to:
            sql += " AND created <= ?"
            args.append(created_to)
        if prefix:
            sql += " AND substr(instance_id, 1, ?) = ?"
            args += [len(prefix), prefix]
        rows = self._db.execute(sql + " ORDER BY created, instance_id", args).fetchall()
        return [Instance.from_row(r) for r in rows]

    def scan_instances(self, prefix: str | None, after: str | None, limit: int) -> list[Instance]:
        """Up to `limit` instances in instance-id order, after `after`, within the prefix."""
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE 1=1"  # noqa: S608
        args: list[Any] = []
        if after is not None:
            sql += " AND instance_id > ?"
            args.append(after)
        if prefix:
            sql += " AND substr(instance_id, 1, ?) = ?"
            args += [len(prefix), prefix]
        rows = self._db.execute(sql + " ORDER BY instance_id LIMIT ?", [*args, limit]).fetchall()
        return [Instance.from_row(r) for r in rows]

    def delete_instance(self, instance_id: str) -> int:
        """Deletes an instance and everything pending for it; returns 1 if it existed."""
        self.clear_work(instance_id)
        self._db.execute("DELETE FROM inbox WHERE target = ?", (instance_id,))
        self._db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        cur = self._db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
        self._touch(instance_id)
        return cur.rowcount

    def clear_work(self, instance_id: str) -> None:
        """Drops the timers and activities still pending for an instance."""
        self._db.execute("DELETE FROM timers WHERE instance_id = ?", (instance_id,))
        self._db.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))

    # --- history -------------------------------------------------------------------------

    def load_history(self, instance_id: str) -> list[Event]:
        return [json.loads(text) for text in self.load_history_texts(instance_id)]

    def load_history_texts(self, instance_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
        ).fetchall()
        return [r[0] for r in rows]

    def append_history(
        self, instance_id: str, execution_id: str, first_seq: int, events: Iterable[Event]
    ) -> None:
        self._db.executemany(
            "INSERT INTO history (instance_id, seq, execution_id, event) VALUES (?,?,?,?)",
            [
                (instance_id, first_seq + i, execution_id, json.dumps(e))
                for i, e in enumerate(events)
            ],
        )
        self._touch(instance_id)

    def clear_history(self, instance_id: str) -> None:
        self._db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        self._touch(instance_id)

    # --- inbox ---------------------------------------------------------------------------

    def send(self, target: str, body: dict[str, Any], execution_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO inbox (target, execution_id, body) VALUES (?,?,?)",
            (target, execution_id, json.dumps(body)),
        )

    def inbox(self, target: str, limit: int) -> list[Message]:
        rows = self._db.execute(
            "SELECT id, target, execution_id, body FROM inbox WHERE target = ? ORDER BY id LIMIT ?",
            (target, limit),
        ).fetchall()
        return [Message(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def delete_messages(self, ids: Iterable[int]) -> None:
        """One DELETE per `_MAX_VARIABLES` ids (a single one for any usual batch)."""
        listed = list(ids)
        for start in range(0, len(listed), _MAX_VARIABLES):
            chunk = listed[start : start + _MAX_VARIABLES]
            marks = ",".join("?" * len(chunk))
            self._db.execute(f"DELETE FROM inbox WHERE id IN ({marks})", chunk)  # noqa: S608

    def targets_with_messages(self) -> list[str]:
        rows = self._db.execute("SELECT target FROM inbox GROUP BY target ORDER BY min(id)")
        return [r[0] for r in rows.fetchall()]

    # --- activities ----------------------------------------------------------------------

    def add_activity(
        self, instance_id: str, execution_id: str, task_id: int, name: str, input_text: str | None
    ) -> ActivityRow:
        fields = (instance_id, execution_id, task_id, name, input_text)
        cur = self._db.execute(
            "INSERT INTO activities (instance_id, execution_id, task_id, name, input) "
            "VALUES (?,?,?,?,?)",
            fields,
        )
        return ActivityRow(int(cur.lastrowid or 0), *fields)

    def pending_activities(self) -> list[ActivityRow]:
        rows = self._db.execute(
            "SELECT id, instance_id, execution_id, task_id, name, input FROM activities ORDER BY id"
        ).fetchall()
        return [ActivityRow(*r) for r in rows]

    def delete_activity(self, row_id: int) -> int:
        """Returns 1 if the activity was still pending, else 0."""
        return self._db.execute("DELETE FROM activities WHERE id = ?", (row_id,)).rowcount

    # --- timers --------------------------------------------------------------------------

    def add_timer(self, instance_id: str, execution_id: str, timer_id: int, fire_at: str) -> None:
        self._db.execute(
            "INSERT INTO timers (instance_id, execution_id, timer_id, fire_at) VALUES (?,?,?,?)",
            (instance_id, execution_id, timer_id, fire_at),
        )

    def next_timer_at(self) -> str | None:
        row = self._db.execute("SELECT min(fire_at) FROM timers").fetchone()
        return row[0] if row else None

    def due_timers(self, now: str) -> list[tuple[int, str, str, int, str]]:
        return self._db.execute(
            "SELECT id, instance_id, execution_id, timer_id, fire_at FROM timers "
            "WHERE fire_at <= ? ORDER BY fire_at, id",
            (now,),
        ).fetchall()

    def delete_timer(self, row_id: int) -> None:
        self._db.execute("DELETE FROM timers WHERE id = ?", (row_id,))

    # --- entities ------------------------------------------------------------------------

    def get_entity(self, entity_id: str) -> tuple[bool, str | None] | None:
        row = self._db.execute(
            "SELECT exists_, state FROM entities WHERE entity_id = ?", (entity_id,)
        ).fetchone()
        return (bool(row[0]), row[1]) if row else None

    def put_entity(
        self, entity_id: str, name: str, key: str, exists: bool, state: str | None, now: str
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO entities (entity_id, name, key, exists_, state, updated) "
            "VALUES (?,?,?,?,?,?)",
            (entity_id, name, key, int(exists), state if exists else None, now),
        )
        self._touch(entity_id)

    def scan_entities(
        self, name: str | None, after: str | None, limit: int
    ) -> list[tuple[str, str, str, bool, str | None, str]]:
        """Up to `limit` entities (deleted ones too) in entity-id order after `after`:
        (entity_id, name, key, exists, state, updated)."""
        sql = "SELECT entity_id, name, key, exists_, state, updated FROM entities WHERE 1=1"
        args: list[Any] = []
        if after is not None:
            sql += " AND entity_id > ?"
            args.append(after)
        if name:
            sql += " AND name = ?"
            args.append(name.lower())
        rows = self._db.execute(sql + " ORDER BY entity_id LIMIT ?", [*args, limit]).fetchall()
        return [(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in rows]
