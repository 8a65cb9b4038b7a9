"""Backup records: one partition per database, newest first (shared/storage/records.py).

created_at is fixed at creation: callers that may run twice (activities) should set it
themselves (e.g. from the orchestration's clock) so a retried create hits AlreadyExists
instead of a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.models import FINAL_STATUSES, BackupRecord, BackupStatus, Trigger
from shared.storage.codec import as_utc, from_entity
from shared.storage.records import RecordTable
from shared.storage.tables import Page, check_page_size, is_valid_id

DEFAULT_PAGE_SIZE = 50


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


class BackupRecordRepository(RecordTable[BackupRecord]):
    model_type = BackupRecord
    table_suffix = "backups"
    final_statuses = FINAL_STATUSES
    noun = "backup record"

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
