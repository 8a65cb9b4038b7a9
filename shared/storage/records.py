"""What backup and drill records have in common: one partition per database, newest first.

Row key = inverted created_at (microseconds) + record id, so "the latest records of
database X" is the head of one partition. created_at is therefore fixed at creation:
callers that may run twice (activities) should set it themselves (e.g. from the
orchestration's clock) so a retried create hits AlreadyExists instead of a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from azure.data.tables import TableServiceClient

from shared.models import BackupRecord, DrillRecord
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

R = TypeVar("R", BackupRecord, DrillRecord)
Changes = dict[str, Any] | Callable[[Any], dict[str, Any]]

SDK_TOKEN_KEYS = frozenset({"PartitionKey", "RowKey"})
# Writers that race for one record (a dump's progress, a cancel) read again this often.
_CONFLICT_ATTEMPTS = 8


class RecordTable(Generic[R]):
    model_type: ClassVar[type[Any]]
    table_suffix: ClassVar[str]
    # A record in one of these states is never changed by update_unless_final.
    final_statuses: ClassVar[frozenset[Any]]
    noun: ClassVar[str]

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.table = EntityTable(service, f"{prefix}{self.table_suffix}")

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

    def _existing(self, record: R) -> R | None:
        found = self._find(record.database_id, record.id, record.created_at)
        return None if found is None else from_entity(self.model_type, found[0])

    def get(self, database_id: str, record_id: str) -> R | None:
        found = self._find(database_id, record_id)
        return None if found is None else from_entity(self.model_type, found[0])

    def get_with_etag(self, database_id: str, record_id: str) -> tuple[R, str] | None:
        found = self._find(database_id, record_id)
        return None if found is None else (from_entity(self.model_type, found[0]), found[1])

    def current(self, record: R) -> R | None:
        """The stored version of a record read or created before: one point read when its
        created_at is right."""
        return self._existing(record)

    def iter_by_database(self, database_id: str) -> Iterator[R]:
        """Every record of one database, newest first."""
        for entity in self.table.query_all("PartitionKey eq @pk", {"pk": database_id}):
            yield from_entity(self.model_type, entity)

    def _page(
        self, query: str, parameters: dict[str, Any], page_size: int, continuation: str | None
    ) -> Page[R]:
        check_page_size(page_size)
        start = decode_token(continuation, SDK_TOKEN_KEYS)
        page = self.table.query_page(query, parameters, page_size, start)
        items = [from_entity(self.model_type, entity) for entity in page.entities]
        return Page[self.model_type](items=items, continuation=encode_token(page.continuation))

    # --- writes --------------------------------------------------------------------

    @staticmethod
    def _stamped(record: R, created_at: datetime | None = None) -> R:
        now = datetime.now(UTC)
        created = created_at or record.created_at or now
        return record.model_copy(update={"created_at": as_utc(created), "updated_at": now})

    @staticmethod
    def _entity(record: R) -> dict[str, Any]:
        assert record.created_at is not None  # set by _stamped
        row_key = newest_first_key(record.created_at, record.id)
        return to_entity(record, record.database_id, row_key)

    def create(self, record: R) -> R:
        """Stores a new record; AlreadyExists if its id is taken in its database, whatever
        its created_at (a re-run of a finished job must find it, not add a twin)."""
        if self._find(record.database_id, record.id) is not None:
            raise AlreadyExists(f"{self.noun} {record.id} already exists")
        record = self._stamped(record)
        self.table.create(self._entity(record))
        return record

    def upsert(self, record: R) -> R:
        """Stores the record, keeping the created_at (hence the row) of an existing one."""
        existing = self._existing(record)
        record = self._stamped(record, existing.created_at if existing else None)
        self.table.upsert(self._entity(record))
        return record

    def replace(self, record: R) -> R:
        """Rewrites a record read from this repository in one round trip: its created_at
        names its row, so no read is needed (use upsert when that is not certain)."""
        if record.created_at is None:
            raise ValueError(f"{self.noun} {record.id} has no created_at: use upsert")
        record = self._stamped(record)
        self.table.upsert(self._entity(record))
        return record

    def update_unless_final(self, record: R, changes: Changes) -> tuple[R, bool]:
        """Applies `changes` (or what `changes(stored)` returns) to the stored record, unless
        it is final already (cancelled, settled, or finished by an earlier attempt): final
        states are never overwritten. Each write is conditional on what was read, so a
        concurrent writer is never undone. Returns the stored record and whether this call
        changed it; NotFound if there is no such record."""
        return self._conditional_update(record, changes, keep_final=True)

    def update_fields(self, record: R, changes: Changes) -> R:
        """Applies `changes` to the stored record whatever its state (bookkeeping that a
        final record still needs), conditional on what was read like update_unless_final."""
        return self._conditional_update(record, changes, keep_final=False)[0]

    def _conditional_update(
        self, record: R, changes: Changes, *, keep_final: bool
    ) -> tuple[R, bool]:
        for _ in range(_CONFLICT_ATTEMPTS):
            found = self._find(record.database_id, record.id, record.created_at)
            if found is None:
                raise NotFound(f"{self.noun} {record.id} does not exist")
            stored = from_entity(self.model_type, found[0])
            if keep_final and stored.status in self.final_statuses:
                return stored, False
            update = changes(stored) if callable(changes) else changes
            changed = self._stamped(stored.model_copy(update=update))
            try:
                self.table.update(self._entity(changed), found[1])
            except ConcurrencyConflict:
                continue
            return changed, True
        raise ConcurrencyConflict(f"{self.noun} {record.id} keeps changing")

    def update(self, record: R, etag: str) -> R:
        """Replaces the record read at `etag`; ConcurrencyConflict or NotFound otherwise."""
        existing = self._existing(record)
        if existing is None:
            raise NotFound(f"{self.noun} {record.id} does not exist")
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

    def delete_record(self, record: R) -> bool:
        """Deletes a record read from this repository in one round trip: its created_at
        names its row. True if it existed; when no row has that key (already gone, or a
        created_at that is not the stored one) it falls back to the lookup by id."""
        database_id, record_id = record.database_id, record.id
        if record.created_at is not None and is_valid_id(database_id) and is_valid_id(record_id):
            row_key = newest_first_key(record.created_at, record_id)
            if self.table.delete(database_id, row_key):
                return True
        return self.delete(database_id, record_id)
