"""Names of backup blobs: unique per record, sortable by time, grouped by server and database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shared.models import ID_PATTERN, Engine

_ID = re.compile(ID_PATTERN)


def backup_extension(engine: Engine) -> str:
    """SQL Server writes its own native backup; every other engine is a zstd-compressed SQL dump."""
    return ".bak" if engine == Engine.SQLSERVER else ".sql.zst"


def backup_blob_name(
    server_id: str, database_id: str, started_at: datetime, record_id: str, engine: Engine
) -> str:
    """`<server>/<database>/<yyyy>/<mm>/<dd>/<yyyymmddThhmmssZ>-<record>.sql.zst` (UTC)."""
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
    return f"{server_id}/{database_id}/{folder}/{stamp}-{record_id}{backup_extension(engine)}"
