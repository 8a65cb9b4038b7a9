"""Names of backup blobs: unique per record, sortable by time, grouped by server and database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shared.models import ID_PATTERN, Engine

_ID = re.compile(ID_PATTERN)


def backup_extension(engine: Engine, encrypted: bool = False) -> str:
    """SQL Server writes its own native backup; every other engine is a zstd-compressed SQL
    dump, with `.age` after it when encrypted (`age -d … | zstd -d` reads it)."""
    if engine == Engine.SQLSERVER:
        return ".bak"
    return ".sql.zst.age" if encrypted else ".sql.zst"


def backup_blob_name(
    server_id: str,
    database_id: str,
    started_at: datetime,
    record_id: str,
    engine: Engine,
    encrypted: bool = False,
) -> str:
    """`<server>/<database>/<yyyy>/<mm>/<dd>/<yyyymmddThhmmssZ>-<record>.sql.zst[.age]` (UTC)."""
    for label, value in (("server id", server_id), ("database id", database_id)):
        if not _ID.match(value):
            raise ValueError(f"invalid {label} {value!r}")
    if not _ID.match(record_id):
        raise ValueError(f"invalid record id {record_id!r}")
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    at = started_at.astimezone(UTC)
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    folder = at.strftime("%Y/%m/%d")
    extension = backup_extension(engine, encrypted)
    return f"{server_id}/{database_id}/{folder}/{stamp}-{record_id}{extension}"
