"""The audit log: append-only (but for the count of an aggregated denial), one partition per
month (yyyy-mm), newest first.

Listing walks the months from the newest one asked for back to the oldest, one
partition query at a time, so results stay in newest-first order; the continuation
token remembers the month and the position inside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableServiceClient

from shared.models import AuditEntry
from shared.storage.codec import as_utc, from_entity, to_entity
from shared.storage.tables import (
    EntityTable,
    InvalidContinuation,
    Page,
    check_page_size,
    decode_token,
    encode_token,
    newest_first_key,
)

DEFAULT_PAGE_SIZE = 50
TOKEN_KEYS = frozenset({"month", "PartitionKey", "RowKey"})
# Months queried by one call at most, so a far-off `until` cannot make a call endless;
# the continuation picks up where it stopped.
MONTHS_PER_CALL = 24


def month_of(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m")


def previous_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def _filters(
    since: datetime | None, until: datetime | None, **equal: str | None
) -> tuple[str, dict[str, Any]]:
    clauses = ["PartitionKey eq @month"]
    parameters: dict[str, Any] = {}
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} eq @{column}")
            parameters[column] = value
    if since is not None:
        clauses.append("at ge @since")
        parameters["since"] = as_utc(since)
    if until is not None:
        clauses.append("at lt @until")
        parameters["until"] = as_utc(until)
    return " and ".join(clauses), parameters


class AuditRepository:
    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.table = EntityTable(service, f"{prefix}audit")

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Adds the entry; AlreadyExists if the same entry id at the same moment exists."""
        entry = entry.model_copy(update={"at": as_utc(entry.at)})
        row_key = newest_first_key(entry.at, entry.id)
        self.table.create(to_entity(entry, month_of(entry.at), row_key))
        return entry

    def replace(self, entry: AuditEntry) -> AuditEntry:
        """Writes the entry over the one with its id and moment (a denial's final count)."""
        entry = entry.model_copy(update={"at": as_utc(entry.at)})
        row_key = newest_first_key(entry.at, entry.id)
        self.table.upsert(to_entity(entry, month_of(entry.at), row_key))
        return entry

    def list(
        self,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AuditEntry]:
        """Newest first; `since` inclusive, `until` exclusive."""
        check_page_size(page_size)
        query, parameters = _filters(since, until, actor=actor, action=action, resource=resource)
        oldest = self._oldest_month(since)
        if oldest is None:
            return Page[AuditEntry]()
        month, start = self._start(continuation, until)
        items: list[AuditEntry] = []
        walked = 0
        while month >= oldest and len(items) < page_size and walked < MONTHS_PER_CALL:
            walked += 1
            parameters["month"] = month
            page = self.table.query_page(query, parameters, page_size - len(items), start)
            items.extend(from_entity(AuditEntry, entity) for entity in page.entities)
            if page.continuation is not None:
                return Page[AuditEntry](items=items, continuation=_token(month, page.continuation))
            month, start = previous_month(month), None
        more = month >= oldest
        return Page[AuditEntry](items=items, continuation=_token(month, None) if more else None)

    def _start(
        self, continuation: str | None, until: datetime | None
    ) -> tuple[str, dict[str, str] | None]:
        token = decode_token(continuation, TOKEN_KEYS)
        if token is None:
            return month_of(until or datetime.now(UTC)), None
        month = _valid_month(token["month"])
        inner = {"PartitionKey": token["PartitionKey"], "RowKey": token["RowKey"]}
        return month, inner if token["PartitionKey"] is not None else None

    def _oldest_month(self, since: datetime | None) -> str | None:
        """The oldest month worth querying (None: the log is empty)."""
        oldest = self.table.first_partition_key()
        if oldest is None or since is None:
            return oldest
        return max(oldest, month_of(since))


def _valid_month(value: str | None) -> str:
    try:
        return datetime.strptime(value or "", "%Y-%m").strftime("%Y-%m")
    except ValueError:
        raise InvalidContinuation("continuation token is not valid") from None


def _token(month: str, inner: dict[str, str] | None) -> str | None:
    inner = inner or {}
    return encode_token(
        {"month": month, "PartitionKey": inner.get("PartitionKey"), "RowKey": inner.get("RowKey")}
    )
