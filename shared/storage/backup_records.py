"""Backup records: one partition per database, newest first.

Row key = inverted created_at (microseconds) + record id, so "the latest backups of
database X" is the head of one partition. created_at is therefore fixed at creation:
callers that may run twice (activities) should set it themselves (e.g. from the
orchestration's clock) so a retried create hits AlreadyExists instead of a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableServiceClient

from shared.models import FINAL_STATUSES, BackupRecord, BackupStatus, Trigger
from shared.storage.codec import as_utc, from_entity, to_entity
from shared.storage.tables import (
    AlreadyExists,
    ConcurrencyConflict,
    EntityTable,
    NotFound,
    Page,
    check_page_size,
    decode_token,
    encode_token,
    is_valid_id,
    newest_first_key,
)

DEFAULT_PAGE_SIZE = 50
SDK_TOKEN_KEYS = frozenset({"PartitionKey", "RowKey"})
# Writers that race for one record (a dump's progress, a cancel) read again this often.
_CONFLICT_ATTEMPTS = 8


def _filters(
    status: BackupStatus | None,
    since: datetime | None,
    until: datetime | None,
    **equal: str | None,
) -> tuple[list[str], dict[str, Any]]:
    """Filter clauses and their parameters; values only ever travel as parameters."""
    clauses: list[str] = []
    parameters: dict[str, Any] = {}
    for column, value in {"status": status, **equal}.items():
        if value is not None:
            clauses.append(f"{column} eq @{column}")
            parameters[column] = str(value)
    if since is not None:
        clauses.append("created_at ge @since")
        parameters["since"] = as_utc(since)
    if until is not None:
        clauses.append("created_at lt @until")
        parameters["until"] = as_utc(until)
    return clauses, parameters


class BackupRecordRepository:
    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.table = EntityTable(service, f"{prefix}backups")

    # --- reads ---------------------------------------------------------------------

    def _find(
        self, database_id: str, record_id: str, created_at: datetime | None = None
    ) -> tuple[dict[str, Any], str] | None:
        """The record's entity and etag: a point read when created_at is known (and
        right), else a query of the database's partition by id."""
        if not (is_valid_id(database_id) and is_valid_id(record_id)):
            return None
        if created_at is not None:
            found = self.table.get_with_etag(database_id, newest_first_key(created_at, record_id))
            if found is not None:
                return found
        query = "PartitionKey eq @pk and id eq @id"
        parameters = {"pk": database_id, "id": record_id}
        for found in self.table.query_with_etags(query, parameters):
            return found
        return None

    def _existing(self, record: BackupRecord) -> BackupRecord | None:
        found = self._find(record.database_id, record.id, record.created_at)
        return None if found is None else from_entity(BackupRecord, found[0])

    def get(self, database_id: str, record_id: str) -> BackupRecord | None:
        found = self._find(database_id, record_id)
        return None if found is None else from_entity(BackupRecord, found[0])

    def get_with_etag(self, database_id: str, record_id: str) -> tuple[BackupRecord, str] | None:
        found = self._find(database_id, record_id)
        return None if found is None else (from_entity(BackupRecord, found[0]), found[1])

    def current(self, record: BackupRecord) -> BackupRecord | None:
        """The stored version of a record read or created before: one point read when its
        created_at is right."""
        return self._existing(record)

    def unfinished(self) -> list[BackupRecord]:
        """Every queued or running record, of every database (the watchdog's sweep: the
        filter runs in the service, one request per database partition)."""
        query = "status eq @queued or status eq @running"
        parameters = {"queued": BackupStatus.QUEUED.value, "running": BackupStatus.RUNNING.value}
        return [from_entity(BackupRecord, e) for e in self.table.query_all(query, parameters)]

    def list_by_database(
        self,
        database_id: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
        status: BackupStatus | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[BackupRecord]:
        """Newest first; `since` inclusive and `until` exclusive, on created_at."""
        if not is_valid_id(database_id):
            check_page_size(page_size)
            return Page[BackupRecord]()
        clauses, parameters = _filters(status, since, until)
        clauses.insert(0, "PartitionKey eq @pk")
        parameters["pk"] = database_id
        return self._page(" and ".join(clauses), parameters, page_size, continuation)

    def list_all(
        self,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
        server_id: str | None = None,
        status: BackupStatus | None = None,
        trigger: Trigger | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[BackupRecord]:
        """Across databases: grouped by database id, newest first within each database.
        This scans the table; for one database use list_by_database."""
        clauses, parameters = _filters(status, since, until, server_id=server_id, trigger=trigger)
        query = " and ".join(clauses) or "PartitionKey ne @empty"
        if not clauses:
            parameters["empty"] = ""
        return self._page(query, parameters, page_size, continuation)

    def retention_candidates(self, database_id: str) -> list[BackupRecord]:
        """What retention decides on: every record but the expired ones whose blob is gone.
        Expired records are history; only those whose blob is still named (a deletion that
        was interrupted) need retention's attention. Reading just the rest keeps the cost
        flat however long the history grows (an hourly policy adds 8,760 records a year)."""
        parameters = {"pk": database_id, "expired": BackupStatus.EXPIRED.value, "empty": ""}
        live = "PartitionKey eq @pk and status ne @expired"
        unfinished = "PartitionKey eq @pk and status eq @expired and blob_name gt @empty"
        found = [
            *self.table.query_all(live, parameters),
            *self.table.query_all(unfinished, parameters),
        ]
        return [from_entity(BackupRecord, entity) for entity in found]

    def encrypted_to(self, identity_id: str) -> list[BackupRecord]:
        """Every stored backup encrypted to one service key (scans the table: for key
        retirement, a rare admin action)."""
        query = "identity_id eq @identity and blob_name gt @empty"
        found = self.table.query_all(query, {"identity": identity_id, "empty": ""})
        return [from_entity(BackupRecord, entity) for entity in found]

    def iter_by_database(self, database_id: str) -> Iterator[BackupRecord]:
        """Every record of one database, newest first (retention sweeps)."""
        for entity in self.table.query_all("PartitionKey eq @pk", {"pk": database_id}):
            yield from_entity(BackupRecord, entity)

    def _page(
        self, query: str, parameters: dict[str, Any], page_size: int, continuation: str | None
    ) -> Page[BackupRecord]:
        check_page_size(page_size)
        start = decode_token(continuation, SDK_TOKEN_KEYS)
        page = self.table.query_page(query, parameters, page_size, start)
        items = [from_entity(BackupRecord, entity) for entity in page.entities]
        return Page[BackupRecord](items=items, continuation=encode_token(page.continuation))

    # --- writes --------------------------------------------------------------------

    @staticmethod
    def _stamped(record: BackupRecord, created_at: datetime | None = None) -> BackupRecord:
        now = datetime.now(UTC)
        created = created_at or record.created_at or now
        return record.model_copy(update={"created_at": as_utc(created), "updated_at": now})

    @staticmethod
    def _entity(record: BackupRecord) -> dict[str, Any]:
        assert record.created_at is not None  # set by _stamped
        row_key = newest_first_key(record.created_at, record.id)
        return to_entity(record, record.database_id, row_key)

    def create(self, record: BackupRecord) -> BackupRecord:
        """Stores a new record; AlreadyExists if its id is taken in its database, whatever
        its created_at (a re-run of a finished backup must find it, not add a twin)."""
        if self._find(record.database_id, record.id) is not None:
            raise AlreadyExists(f"backup record {record.id} already exists")
        record = self._stamped(record)
        self.table.create(self._entity(record))
        return record

    def upsert(self, record: BackupRecord) -> BackupRecord:
        """Stores the record, keeping the created_at (hence the row) of an existing one."""
        existing = self._existing(record)
        record = self._stamped(record, existing.created_at if existing else None)
        self.table.upsert(self._entity(record))
        return record

    def replace(self, record: BackupRecord) -> BackupRecord:
        """Rewrites a record read from this repository in one round trip: its created_at
        names its row, so no read is needed (use upsert when that is not certain)."""
        if record.created_at is None:
            raise ValueError(f"backup record {record.id} has no created_at: use upsert")
        record = self._stamped(record)
        self.table.upsert(self._entity(record))
        return record

    def update_unless_final(
        self,
        record: BackupRecord,
        changes: dict[str, Any] | Callable[[BackupRecord], dict[str, Any]],
    ) -> tuple[BackupRecord, bool]:
        """Applies `changes` (or what `changes(stored)` returns) to the stored record, unless
        it is final already (cancelled, settled, or finished by an earlier attempt): final
        states are never overwritten. Each write is conditional on what was read, so a
        concurrent writer is never undone. Returns the stored record and whether this call
        changed it; NotFound if there is no such record."""
        for _ in range(_CONFLICT_ATTEMPTS):
            found = self._find(record.database_id, record.id, record.created_at)
            if found is None:
                raise NotFound(f"backup record {record.id} does not exist")
            stored = from_entity(BackupRecord, found[0])
            if stored.status in FINAL_STATUSES:
                return stored, False
            update = changes(stored) if callable(changes) else changes
            changed = self._stamped(stored.model_copy(update=update))
            try:
                self.table.update(self._entity(changed), found[1])
            except ConcurrencyConflict:
                continue
            return changed, True
        raise ConcurrencyConflict(f"backup record {record.id} keeps changing")

    def update(self, record: BackupRecord, etag: str) -> BackupRecord:
        """Replaces the record read at `etag`; ConcurrencyConflict or NotFound otherwise."""
        existing = self._existing(record)
        if existing is None:
            raise NotFound(f"backup record {record.id} does not exist")
        record = self._stamped(record, existing.created_at)
        self.table.update(self._entity(record), etag)
        return record

    def delete(self, database_id: str, record_id: str) -> bool:
        """True if the record existed: a query for its row, then the delete (use
        delete_record when the record is in hand)."""
        found = self._find(database_id, record_id)
        if found is None:
            return False
        return self.table.delete(database_id, found[0]["RowKey"])

    def delete_record(self, record: BackupRecord) -> bool:
        """Deletes a record read from this repository in one round trip: its created_at
        names its row. True if it existed; when no row has that key (already gone, or a
        created_at that is not the stored one) it falls back to the lookup by id."""
        database_id, record_id = record.database_id, record.id
        if record.created_at is not None and is_valid_id(database_id) and is_valid_id(record_id):
            row_key = newest_first_key(record.created_at, record_id)
            if self.table.delete(database_id, row_key):
                return True
        return self.delete(database_id, record_id)
