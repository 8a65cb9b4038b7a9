"""Reading and writing the backup record on behalf of the backup activities."""

from __future__ import annotations

import threading
import time
from typing import Any

from activities.wiring import Services
from shared.models import AccessTier, BackupRecord, Database, Server
from shared.pipeline.results import BackupOutcome
from shared.pipeline.sanitize import sanitize
from shared.storage.blobs import BlobInfo

MAX_ERROR_CHARS = 1000
# A running dump writes its bytes so far to the record at most this often.
PROGRESS_EVERY_SECONDS = 15.0


class MissingConfiguration(Exception):
    """The database, its server or the record is gone."""


def load(services: Services, database_id: str) -> tuple[Database, Server]:
    """The database and its server; MissingConfiguration when either is gone."""
    repositories = services.repositories
    database = repositories.databases.get(database_id)
    if database is None:
        raise MissingConfiguration(f"database {database_id} does not exist")
    server = repositories.servers.get(database.server_id)
    if server is None:
        raise MissingConfiguration(f"server {database.server_id} does not exist")
    return database, server


def save(services: Services, record: BackupRecord) -> BackupRecord:
    """Rewrites a record this job read or created (so its created_at names its row)."""
    return services.repositories.backups.replace(record)


def clean_error(text: str) -> str:
    """The first lines of a failure, without anything secret-looking, short enough to show.
    Tracebacks (which the durable runtime appends to a failed activity's message) are cut."""
    text = text.split("Traceback (most recent call last)")[0]
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return sanitize(text)[:MAX_ERROR_CHARS] or "backup failed"


def known_tier(value: str | None) -> AccessTier | None:
    """The access tier as we name it; None for anything else the service may report."""
    return AccessTier(value) if value in set(AccessTier) else None


def outcome_fields(outcome: BackupOutcome) -> dict[str, Any]:
    names = (
        "blob_name", "raw_bytes", "stored_bytes", "sha256", "compression",
        "encryption", "identity_id", "extra_recipients", "access_tier", "immutable_until",
    )  # fmt: skip
    fields = {name: getattr(outcome, name) for name in names}
    fields["access_tier"] = known_tier(outcome.access_tier)
    fields.update(
        tool_version=outcome.tool_version,
        server_version=outcome.server_version,
        manifest=outcome.manifest,
    )
    return fields


def outcome_from_blob(info: BlobInfo) -> dict[str, Any]:
    """What an earlier attempt committed, read back from the blob's metadata."""
    metadata = info.metadata
    return {
        "blob_name": info.name,
        "stored_bytes": info.size,
        "raw_bytes": int(metadata.get("raw_bytes", "0") or 0),
        "sha256": metadata.get("sha256"),
        "compression": metadata.get("compression"),
        "tool_version": metadata.get("tool_version") or None,
        "server_version": metadata.get("server_version") or None,
        "encryption": metadata.get("encryption") or None,
        "identity_id": metadata.get("key_id") or None,
        "access_tier": known_tier(info.access_tier),
        "immutable_until": info.immutable_until,
        "legal_hold": info.legal_hold,
    }


class ProgressWriter:
    """The pipeline's progress callback: bytes so far, written to the record now and then
    (the orchestration cannot hear from a running activity, the record can be read any time)."""

    def __init__(self, services: Services, record: BackupRecord) -> None:
        self._services = services
        self._record = record
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, raw_bytes: int, stored_bytes: int) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < PROGRESS_EVERY_SECONDS:
                return
            self._last = now
        update = {"raw_bytes": raw_bytes, "stored_bytes": stored_bytes}
        save(self._services, self._record.model_copy(update=update))
