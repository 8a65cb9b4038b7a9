"""The activities of one backup: prepare the record, test the connection, dump, finish.

Each may run more than once (retries, at-least-once delivery): each reads the record first
and does only what is still missing. The dump's blob name is fixed by the record, and the
pipeline commits with if-none-match, so a re-run never yields a second committed blob.
"""

from __future__ import annotations

from typing import Any

from activities import bp
from activities.backup_records import (
    Loaded,
    ProgressWriter,
    clean_error,
    load,
    outcome_fields,
    outcome_from_blob,
    save,
)
from activities.dump_seam import WorkRequest, backup_worker
from activities.tuning import job_tuning, lease_seconds
from activities.wiring import services
from shared.engines.base import ConnectionErrorKind
from shared.jobs import (
    CHECK_CONNECTION,
    DUMP_DATABASE,
    FINISH_BACKUP,
    PREPARE_BACKUP,
    CheckConnectionInput,
    ConnectionCheck,
    DumpInput,
    DumpResult,
    FinishBackupInput,
    FinishedBackup,
    PrepareBackupInput,
    PreparedBackup,
    dump_json,
)
from shared.models import BackupRecord, BackupStatus
from shared.pipeline.naming import backup_blob_name
from shared.pipeline.results import BackupFailed

# Worth another attempt; anything else (bad password, no such database) will not heal.
TRANSIENT = {
    ConnectionErrorKind.UNREACHABLE,
    ConnectionErrorKind.TIMEOUT,
    ConnectionErrorKind.UNKNOWN,
}
FINISHED = {BackupStatus.SUCCEEDED, BackupStatus.EXPIRED}


class AttemptFailed(Exception):
    """One attempt failed; the message is sanitised (it is stored and shown)."""


@bp.activity_trigger(input_name="data", activity=PREPARE_BACKUP)
def prepare_backup(data: dict) -> dict:
    ask = PrepareBackupInput.model_validate(data)
    loaded = load(services(), ask.job.database_id, ask.record_id, must_exist=False)
    record = loaded.record
    if record is None or record.status not in FINISHED:
        record = BackupRecord(
            id=ask.record_id,
            database_id=loaded.database.id,
            server_id=loaded.server.id,
            status=BackupStatus.QUEUED,
            tiers=ask.job.tiers,
            trigger=ask.job.trigger,
            slot_time=ask.job.slot_time,
            created_at=record.created_at if record else ask.now,
        )
        save(services(), record)
    settings, tuning = services().settings, job_tuning()
    limit = getattr(loaded.server, "max_concurrent_backups", None)
    return dump_json(
        PreparedBackup(
            record_id=record.id,
            server_id=loaded.server.id,
            already_done=record.status in FINISHED,
            status=record.status,
            server_limit=limit or settings.server_max_concurrent_backups,
            lease_seconds=lease_seconds(settings.dump_timeout_seconds, tuning),
            dump_max_attempts=tuning.dump_max_attempts,
            dump_retry_seconds=tuning.dump_retry_seconds,
        )
    )


@bp.activity_trigger(input_name="data", activity=CHECK_CONNECTION)
def check_connection(data: dict) -> dict:
    ask = CheckConnectionInput.model_validate(data)
    loaded = load(services(), ask.database_id, ask.record_id)
    worker = backup_worker(job_tuning().backup_worker)
    result = worker.check_connection(
        WorkRequest(services(), loaded.server, loaded.database, loaded.record)
    )
    if result.ok:
        return dump_json(ConnectionCheck(ok=True, server_version=result.server_version))
    kind = result.error_kind or ConnectionErrorKind.UNKNOWN
    message = clean_error(f"connection test failed ({kind}): {result.message or 'no detail'}")
    save(services(), loaded.record.model_copy(update={"error": message}))
    if kind in TRANSIENT:
        raise AttemptFailed(message)
    return dump_json(ConnectionCheck(ok=False, error=message))


@bp.activity_trigger(input_name="data", activity=DUMP_DATABASE)
def dump_database(data: dict) -> dict:
    ask = DumpInput.model_validate(data)
    loaded = load(services(), ask.database_id, ask.record_id)
    record, blobs = loaded.record, services().blobs
    assert record.created_at is not None  # set by prepare_backup
    name = backup_blob_name(
        loaded.server.id, loaded.database.id, record.created_at, record.id, loaded.server.engine
    )
    if blobs.exists(name):  # an earlier attempt committed it; its result was lost
        return _succeeded(loaded, outcome_from_blob(blobs.info(name)))
    record = save(
        services(),
        record.model_copy(update={"status": BackupStatus.RUNNING, "started_at": ask.now}),
    )
    request = WorkRequest(
        services(), loaded.server, loaded.database, record, name, ProgressWriter(services(), record)
    )
    try:
        outcome = backup_worker(job_tuning().backup_worker).dump(request)
    except BackupFailed as exc:
        if exc.reason == "exists":
            return _succeeded(loaded, outcome_from_blob(blobs.info(name)))
        save(services(), record.model_copy(update={"error": clean_error(exc.message)}))
        raise AttemptFailed(clean_error(exc.message)) from None
    return _succeeded(loaded, outcome_fields(outcome))


def _succeeded(loaded: Loaded, fields: dict[str, Any]) -> dict:
    """Stores what the dump produced (the status stays running until finish_backup)."""
    record = save(services(), loaded.record.model_copy(update={**fields, "error": None}))
    assert record.blob_name and record.sha256 is not None
    return dump_json(
        DumpResult(
            record_id=record.id,
            blob_name=record.blob_name,
            raw_bytes=record.raw_bytes or 0,
            stored_bytes=record.stored_bytes or 0,
            sha256=record.sha256,
        )
    )


@bp.activity_trigger(input_name="data", activity=FINISH_BACKUP)
def finish_backup(data: dict) -> dict:
    ask = FinishBackupInput.model_validate(data)
    loaded = load(services(), ask.database_id, ask.record_id)
    record = loaded.record
    if record.status in FINISHED or (record.status is BackupStatus.FAILED and not ask.succeeded):
        return dump_json(
            FinishedBackup(record_id=record.id, status=record.status, error=record.error)
        )
    if ask.succeeded:
        update = {"status": BackupStatus.SUCCEEDED, "error": None}
    else:
        reason = record.error or clean_error(ask.error or "backup failed")
        update = {"status": BackupStatus.FAILED, "error": reason, "blob_name": None}
    record = save(services(), record.model_copy(update={**update, "finished_at": ask.now}))
    return dump_json(FinishedBackup(record_id=record.id, status=record.status, error=record.error))
