"""Each database's freshness as the watchdog last found it, in `<prefix>freshness` (one
partition, row key = database id). Kept apart from the catalog row: the watchdog writes it on
its own timer and must not race a person's edit of the database.

Writes are conditional (create, or replace at the etag read), so when two watchdog runs
overlap only one of them records a change of state, and only that one notifies it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from azure.data.tables import TableServiceClient

from shared.models import Freshness
from shared.storage.codec import from_entity, to_entity
from shared.storage.tables import ConcurrencyConflict, EntityTable, NotFound, is_valid_id

PARTITION = "database"


class FreshnessRepository:
    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.table = EntityTable(service, f"{prefix}freshness")

    def all(self) -> dict[str, tuple[Freshness, str]]:
        """Every stored state with its etag, by database id."""
        found = self.table.query_with_etags("PartitionKey eq @pk", {"pk": PARTITION}, 1000)
        return {entity["RowKey"]: (from_entity(Freshness, entity), etag) for entity, etag in found}

    def get(self, database_id: str) -> Freshness | None:
        if not is_valid_id(database_id):
            return None
        entity = self.table.get(PARTITION, database_id)
        return None if entity is None else from_entity(Freshness, entity)

    def save(self, state: Freshness, etag: str | None) -> Freshness:
        """Creates the state (`etag` None) or replaces the one read at `etag`; AlreadyExists
        or ConcurrencyConflict when someone else wrote it first."""
        state = state.model_copy(update={"updated_at": datetime.now(UTC)})
        entity = to_entity(state, PARTITION, state.database_id)
        if etag is None:
            self.table.create(entity)
        else:
            self.table.update(entity, etag)
        return state

    def mark_notified(self, database_id: str, since: datetime) -> bool:
        """Records that the change found at `since` was notified; False when the stored state
        is another one by now (or changed meanwhile: the next run looks again)."""
        found = self.table.get_with_etag(PARTITION, database_id)
        if found is None:
            return False
        state = from_entity(Freshness, found[0])
        if state.since != since:
            return False
        try:
            self.save(state.model_copy(update={"notified": True}), found[1])
        except (ConcurrencyConflict, NotFound):
            return False
        return True

    def delete(self, database_id: str) -> bool:
        return is_valid_id(database_id) and self.table.delete(PARTITION, database_id)
