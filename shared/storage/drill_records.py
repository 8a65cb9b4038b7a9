"""Restore drill records: one partition per database, newest first, in `<prefix>drills`."""

from __future__ import annotations

from shared.models import FINAL_DRILL_STATUSES, DrillRecord, DrillStatus
from shared.storage.codec import from_entity
from shared.storage.records import RecordTable
from shared.storage.tables import Page, check_page_size, is_valid_id

DEFAULT_PAGE_SIZE = 20


class DrillRecordRepository(RecordTable[DrillRecord]):
    model_type = DrillRecord
    table_suffix = "drills"
    final_statuses = FINAL_DRILL_STATUSES
    noun = "drill record"

    def list_by_database(
        self, database_id: str, page_size: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[DrillRecord]:
        """Newest first."""
        if not is_valid_id(database_id):
            check_page_size(page_size)
            return Page[DrillRecord]()
        return self._page("PartitionKey eq @pk", {"pk": database_id}, page_size, continuation)

    def newest(self, database_id: str) -> DrillRecord | None:
        """The database's latest drill, whatever came of it (one request)."""
        page = self.list_by_database(database_id, page_size=1)
        return page.items[0] if page.items else None

    def left_behind(self) -> list[DrillRecord]:
        """Every drill that may have left something to clean up, of every database: those
        not finished, and finished ones whose scratch database was not dropped (the
        watchdog's sweep; the filter runs in the service)."""
        query = "status eq @queued or status eq @running or scratch_dropped eq false"
        parameters = {"queued": DrillStatus.QUEUED.value, "running": DrillStatus.RUNNING.value}
        found = self.table.query_all(query, parameters)
        return [from_entity(DrillRecord, entity) for entity in found]

    def prune(self, database_id: str, keep: int) -> int:
        """Deletes the database's drill records beyond the newest `keep`, except any whose
        scratch database may still exist (the cleanup needs its record). How many went."""
        deleted = 0
        for index, record in enumerate(self.iter_by_database(database_id)):
            if index >= keep and record.scratch_dropped and record.status in FINAL_DRILL_STATUSES:
                deleted += int(self.delete_record(record))
        return deleted
