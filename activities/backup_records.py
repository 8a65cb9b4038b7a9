"""Reading and writing the backup record on behalf of the backup activities."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from activities.wiring import Services
from shared.job_context import in_this_context
from shared.models import FINAL_STATUSES, AccessTier, BackupRecord, Database, Server
from shared.pipeline.results import BackupOutcome
from shared.pipeline.sanitize import sanitize
from shared.storage.blobs import BlobInfo

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1000
# A running dump writes its bytes so far to the record at most this often,
PROGRESS_EVERY_SECONDS = 15.0
# and reads the record this often (a cancel stops the dump within that time).
WATCH_EVERY_SECONDS = 3.0


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


def wall_clock() -> datetime:
    """Activities record real times (an orchestration's clock is when it was scheduled)."""
    return datetime.now(UTC)


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
        "finished_at": info.last_modified or wall_clock(),
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


class RecordWatch:
    """A running dump's link to its record, on a thread of its own. It writes the bytes so
    far to the record now and then (the orchestration cannot hear from a running activity;
    the record can be read any time), and reads the record every few seconds: once the
    record is final (cancelled through the API, or settled because its job ended) it sets
    `cancel`, and the pipeline stops the dump and commits nothing. Writes are conditional
    and never touch a final record, so a cancel is never undone."""

    def __init__(
        self,
        services: Services,
        record: BackupRecord,
        *,
        poll_seconds: float = WATCH_EVERY_SECONDS,
        write_seconds: float = PROGRESS_EVERY_SECONDS,
    ) -> None:
        self._services = services
        self.record = record
        self.cancel = threading.Event()
        self._poll = poll_seconds
        self._write_every = write_seconds
        self._latest: tuple[int, int] | None = None
        self._written: tuple[int, int] | None = None
        self._last_write = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=in_this_context(self._run), name="record-watch", daemon=True
        )

    def progress(self, raw_bytes: int, stored_bytes: int) -> None:
        """The pipeline's progress callback: only noted here, written by the watch."""
        self._latest = (raw_bytes, stored_bytes)

    def __enter__(self) -> RecordWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self._look()
            except Exception as exc:  # storage down: the dump goes on, its writes will say
                log.warning("record not read (%s)", type(exc).__name__)

    def _look(self) -> None:
        backups = self._services.repositories.backups
        latest = self._latest
        due = time.monotonic() - self._last_write >= self._write_every
        if latest is not None and latest != self._written and due:
            changes = {"raw_bytes": latest[0], "stored_bytes": latest[1]}
            current, _ = backups.update_unless_final(self.record, changes)
            self._written, self._last_write = latest, time.monotonic()
        else:
            current = backups.current(self.record)
        if current is None or current.status in FINAL_STATUSES:
            self.record = current or self.record
            self.cancel.set()
