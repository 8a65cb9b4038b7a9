"""Listing backups newest first, across databases too.

Records are partitioned by database (newest first inside each), so one database is a single
partition query. Across databases the newest of each matching database's head are merged;
the continuation is then a cursor (created_at, id) of the last item handed out.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta

from http_api.errors import ApiError
from http_api.schemas.backups import BackupListQuery, BackupPage
from http_api.services import Services
from shared.models import BackupRecord

_TICK = timedelta(microseconds=1)
BAD_CURSOR = ApiError(400, "invalid_continuation", "the continuation token is not valid")

Key = tuple[datetime, str]


def list_backups(found: Services, query: BackupListQuery) -> BackupPage:
    if query.database_id:
        if query.server_id and not _on_server(found, query.database_id, query.server_id):
            return BackupPage(items=[])  # a filter never widens: both must hold
        page = found.repos.backups.list_by_database(
            query.database_id, query.page_size, query.continuation,
            query.status, query.since, query.until,
        )  # fmt: skip
        return BackupPage(items=_with_tier(page.items, query), continuation=page.continuation)
    return _merged(found, query)


def _on_server(found: Services, database_id: str, server_id: str) -> bool:
    database = found.repos.databases.get(database_id)
    return database is not None and database.server_id == server_id


def _with_tier(items: list[BackupRecord], query: BackupListQuery) -> list[BackupRecord]:
    return [item for item in items if query.tier is None or query.tier in item.tiers]


def _key(record: BackupRecord) -> Key:
    assert record.created_at is not None  # the repository stamps every record
    return record.created_at, record.id


def _merged(found: Services, query: BackupListQuery) -> BackupPage:
    cursor = _decode(query.continuation)
    until = query.until
    if cursor is not None:
        until = min(until, cursor[0] + _TICK) if until else cursor[0] + _TICK
    candidates: list[BackupRecord] = []
    # Below the oldest record fetched from a database with more to give, order is unknown.
    floor: Key | None = None
    for database in _databases(found, query):
        page = found.repos.backups.list_by_database(
            database.id, query.page_size, None, query.status, query.since, until
        )
        fetched = [item for item in page.items if cursor is None or _key(item) < cursor]
        candidates.extend(fetched)
        if page.continuation is not None and page.items:
            floor = max(floor, _key(page.items[-1])) if floor else _key(page.items[-1])
    return _first_page(sorted(candidates, key=_key, reverse=True), floor, query)


def _databases(found: Services, query: BackupListQuery) -> list:
    if query.server_id:
        return list(found.repos.databases.all_by_server(query.server_id))
    return list(found.repos.databases.all())


def _first_page(
    ordered: list[BackupRecord], floor: Key | None, query: BackupListQuery
) -> BackupPage:
    items: list[BackupRecord] = []
    last: Key | None = None
    for record in ordered:
        if len(items) == query.page_size or (floor is not None and _key(record) < floor):
            return BackupPage(items=items, continuation=_encode(last) if last else None)
        last = _key(record)
        if query.tier is None or query.tier in record.tiers:
            items.append(record)
    more = floor is not None and last is not None
    return BackupPage(items=items, continuation=_encode(last) if more else None)


def _encode(key: Key) -> str:
    text = json.dumps({"t": key[0].isoformat(), "id": key[1]})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str | None) -> Key | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        moment = datetime.fromisoformat(value["t"])
        record_id = value["id"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BAD_CURSOR from None
    if moment.tzinfo is None or not isinstance(record_id, str):
        raise BAD_CURSOR
    return moment, record_id
