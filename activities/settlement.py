"""The activities behind settling a backup whose job ended without recording its result:
`settle_record` finishes the record; `find_finished_holders` tells a waiting job which
lease holders no longer run (and starts the settlement of those that were backups)."""

from __future__ import annotations

import logging

import azure.durable_functions as df

from activities import bp
from activities.backup_records import clean_error, wall_clock
from activities.wiring import services
from orchestrators.settlement import runtime_status, settle_if_finished
from shared.job_events import backup_ended, engine_of
from shared.jobs import (
    FIND_FINISHED_HOLDERS,
    RUNNING_STATUSES,
    SETTLE_RECORD,
    HolderCheck,
    SettledRecord,
    SettleJob,
    dump_json,
)
from shared.models import BackupRecord, BackupStatus
from shared.pipeline.naming import backup_blob_name
from shared.storage.blobs import BlobNotFound, BlobProtected

log = logging.getLogger(__name__)


@bp.activity_trigger(input_name="data", activity=SETTLE_RECORD)
def settle_record(data: dict) -> dict:
    """Marks the record failed with the reason, unless it is final already."""
    job = SettleJob.model_validate(data)
    repositories = services().repositories
    record = repositories.backups.get(job.database_id, job.record_id)
    if record is None:  # its job ended before making it: nothing to settle
        return dump_json(SettledRecord(record_id=job.record_id, status=None))
    failed = {
        "status": BackupStatus.FAILED,
        "error": clean_error(job.reason),
        "finished_at": wall_clock(),
    }
    record, changed = repositories.backups.update_unless_final(record, failed)
    if changed:
        backup_ended(record, engine_of(repositories.servers, record.server_id))
    record = _left_blob(record)
    settled = SettledRecord(
        record_id=record.id,
        server_id=record.server_id,
        status=record.status,
        error=record.error,
        tiers=record.tiers,
        changed=changed,
    )
    return dump_json(settled)


def _left_blob(record: BackupRecord) -> BackupRecord:
    """A blob the dump committed before its job died, which its failed or cancelled record
    does not describe, is deleted (it is never locked before its record succeeded). One the
    storage refuses to delete (locked by an older version of this app, or put under a legal
    hold) is adopted: the record names it and says why it stays, so it is never orphaned."""
    if record.status not in {BackupStatus.FAILED, BackupStatus.CANCELLED} or record.blob_name:
        return record
    repositories, blobs = services().repositories, services().blobs
    server = repositories.servers.get(record.server_id)
    if server is None or record.created_at is None:
        return record
    for encrypted in (True, False):
        name = backup_blob_name(
            record.server_id, record.database_id, record.created_at, record.id,
            server.engine, encrypted,
        )  # fmt: skip
        try:
            found = blobs.info(name)
        except BlobNotFound:
            continue
        try:
            blobs.delete(name)
        except BlobProtected:
            until = f"immutable until {found.immutable_until:%Y-%m-%d %H:%M} UTC"
            why = until if found.immutable_until else "under a legal hold"
            adopted = {
                "blob_name": name,
                "stored_bytes": found.size,
                "immutable_until": found.immutable_until,
                "legal_hold": found.legal_hold,
                "error": clean_error(f"{record.error or 'failed'}; its blob stays: {why}"),
            }
            record = repositories.backups.update_fields(record, adopted)
            log.warning("backup %s of %s %s: blob %s kept (%s)",
                        record.id, record.database_id, record.status.value, name, why)  # fmt: skip
        else:
            log.warning("backup %s of %s: deleted blob %s its job committed but never recorded",
                        record.id, record.database_id, name)  # fmt: skip
    return record


@bp.activity_trigger(input_name="data", activity=FIND_FINISHED_HOLDERS)
@bp.durable_client_input(client_name="client")
async def find_finished_holders(data: dict, client: df.DurableOrchestrationClient) -> list[str]:
    """The holders whose jobs are not running, pending or suspended (terminated, failed,
    completed, or unknown); a backup among them has its record settled."""
    finished = []
    for holder in HolderCheck.model_validate(data).holders:
        status = await client.get_status(holder, show_input=True)
        if runtime_status(status) in RUNNING_STATUSES:
            continue
        finished.append(holder)
        await settle_if_finished(client, holder, status)
    return finished
