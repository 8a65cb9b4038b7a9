"""Deleting what a database leaves behind: backups (blob, then record), drill records and
freshness, secret, record."""

from __future__ import annotations

from datetime import UTC, datetime

from http_api.errors import conflict
from http_api.services import Services
from shared.models import BackupRecord, Database
from shared.secrets import database_secret_name


def remove_backup(found: Services, record: BackupRecord) -> None:
    """Blob first, then the record: a failure half way leaves a record to retry, never a
    record pointing at nothing or a blob nothing points at."""
    if record.blob_name:
        found.blobs().delete(record.blob_name)  # silent when already gone
    found.repos.backups.delete(record.database_id, record.id)


def remove_database(found: Services, database: Database, *, with_backups: bool) -> int:
    """Deletes the database (and its backups if asked); returns how many backups went."""
    removed = 0
    if with_backups:
        records = list(found.repos.backups.iter_by_database(database.id))
        for record in records:  # all or nothing: refused before anything goes
            protected_409(record)
        for record in records:
            remove_backup(found, record)
            removed += 1
    for drill in list(found.repos.drills.iter_by_database(database.id)):
        if drill.scratch_dropped:  # one not dropped yet is left to the watchdog's cleanup
            found.repos.drills.delete_record(drill)
    found.repos.freshness.delete(database.id)
    found.secrets.delete(database_secret_name(database.id))
    found.repos.databases.delete(database.id)
    return removed


def protected_409(record: BackupRecord) -> None:
    """A backup under a legal hold or an unexpired immutability policy cannot go."""
    if record.legal_hold:
        raise conflict("the backup is under a legal hold: clear the hold first")
    until = record.immutable_until
    if until is not None and until > datetime.now(UTC):
        raise conflict(f"the backup is immutable until {until:%Y-%m-%d %H:%M} UTC")
