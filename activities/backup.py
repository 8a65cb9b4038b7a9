"""The activities of one backup: prepare the record, test the connection, dump, finish.

Each may run more than once (retries, at-least-once delivery) and does only what is still
missing. The dump's blob name is fixed by the record, and the pipeline commits with
if-none-match, so a re-run never yields a second committed blob. prepare_backup hands the
catalog rows and the record to the later activities, which saves storage round trips.

A record that reached a final state (cancelled through the API, settled after its job
ended, finished by an earlier attempt) is never written again: every write after the record
is created is conditional (`update_unless_final`). Failures that another attempt would not
cure (shared/failures.py) are returned, not raised, so the orchestration does not retry them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from activities import bp
from activities.backup_records import (
    RecordWatch,
    clean_error,
    load,
    outcome_fields,
    outcome_from_blob,
    save,
    wall_clock,
)
from activities.dump_seam import WorkRequest, backup_worker
from activities.wiring import services
from shared.credentials import CredentialsError
from shared.crypto.keys import IdentityState
from shared.engines.base import ConnectionErrorKind, ConnectionResult
from shared.failures import is_permanent
from shared.job_context import job_context, record_context
from shared.job_events import backup_ended, engine_of
from shared.jobs import (
    CHECK_CONNECTION,
    DUMP_DATABASE,
    FINISH_BACKUP,
    PREPARE_BACKUP,
    BackupTarget,
    CheckConnectionInput,
    ConnectionCheck,
    DumpInput,
    DumpOutcome,
    DumpResult,
    FinishBackupInput,
    FinishedBackup,
    PrepareBackupInput,
    PreparedBackup,
    dump_json,
)
from shared.models import BackupRecord, BackupStatus, Policy
from shared.pipeline.encrypt import Encryption, encryption_to
from shared.pipeline.naming import backup_blob_name
from shared.pipeline.results import BackupFailed
from shared.protection import placement_for
from shared.settings import ImmutabilityMode
from shared.storage.blobs import (
    BlobInfo,
    BlobNotFound,
    BlobPlacement,
    BlobStoreError,
    StorageFeatureMissing,
)
from shared.storage.tables import AlreadyExists

# Worth another attempt whatever the message; UNKNOWN is decided by the message.
TRANSIENT = {ConnectionErrorKind.UNREACHABLE, ConnectionErrorKind.TIMEOUT}
FINISHED = {BackupStatus.SUCCEEDED, BackupStatus.EXPIRED}

log = logging.getLogger(__name__)


class AttemptFailed(Exception):
    """One attempt failed and another may succeed; the message is sanitised (it is stored
    and shown)."""


def _queued_record(ask: PrepareBackupInput, server_id: str) -> BackupRecord:
    job = ask.job
    return BackupRecord(
        id=ask.record_id,
        database_id=job.database_id,
        server_id=server_id,
        status=BackupStatus.QUEUED,
        tiers=job.tiers,
        trigger=job.trigger,
        slot_time=job.slot_time,
        created_at=ask.now,
        instance_id=ask.instance_id,
    )


def _existing_or_new(ask: PrepareBackupInput, server_id: str) -> BackupRecord:
    """Creates the queued record; a re-run finds it (and requeues it unless it finished)."""
    backups = services().repositories.backups
    try:
        return backups.create(_queued_record(ask, server_id))
    except AlreadyExists:
        record = backups.get(ask.job.database_id, ask.record_id)
        assert record is not None
        if record.status in FINISHED:
            return record
        requeued = {
            "status": BackupStatus.QUEUED,
            "error": None,
            "started_at": None,
            "finished_at": None,
            "instance_id": ask.instance_id,
        }
        return save(services(), record.model_copy(update=requeued))


@bp.activity_trigger(input_name="data", activity=PREPARE_BACKUP)
def prepare_backup(data: dict) -> dict:
    ask = PrepareBackupInput.model_validate(data)
    with job_context(
        instance_id=ask.instance_id, record_id=ask.record_id, database=ask.job.database_id
    ):
        return _prepare(ask)


def _prepare(ask: PrepareBackupInput) -> dict:
    database, server = load(services(), ask.job.database_id)
    record = _existing_or_new(ask, server.id)
    settings = services().settings
    prepared = PreparedBackup(
        record_id=record.id,
        server_id=server.id,
        status=record.status,
        target=BackupTarget(server=server, database=database, record=record),
        policy_id=database.policy_under(server),
        already_done=record.status in FINISHED,
        server_limit=server.max_concurrent_backups or settings.server_max_concurrent_backups,
        lease_seconds=settings.backup_lease_seconds,
        dump_max_attempts=settings.dump_max_attempts,
        dump_retry_seconds=settings.dump_retry_seconds,
    )
    return dump_json(prepared)


def _request(target: BackupTarget, **extra: Any) -> WorkRequest:
    return WorkRequest(services(), target.server, target.database, target.record, **extra)


def _test(target: BackupTarget) -> ConnectionResult:
    try:
        return backup_worker(services().settings.backup_worker).check_connection(_request(target))
    except CredentialsError as exc:
        return ConnectionResult(
            ok=False, error_kind=ConnectionErrorKind.AUTH_FAILED, message=str(exc)
        )


def _note_error(record: BackupRecord, message: str) -> None:
    """The latest attempt's error, on a record that is not final."""
    services().repositories.backups.update_unless_final(record, {"error": message})


@bp.activity_trigger(input_name="data", activity=CHECK_CONNECTION)
def check_connection(data: dict) -> dict:
    target = CheckConnectionInput.model_validate(data).target
    with record_context(target.record):
        return _check(target)


def _check(target: BackupTarget) -> dict:
    result = _test(target)
    if result.ok:
        return dump_json(ConnectionCheck(ok=True, server_version=result.server_version))
    kind = result.error_kind or ConnectionErrorKind.UNKNOWN
    message = clean_error(f"connection test failed ({kind}): {result.message or 'no detail'}")
    log.warning("%s", message)
    _note_error(target.record, message)
    transient = kind in TRANSIENT or (
        kind is ConnectionErrorKind.UNKNOWN and not is_permanent(None, result.message)
    )
    if transient:
        raise AttemptFailed(message)
    return dump_json(ConnectionCheck(ok=False, error=message))


@bp.activity_trigger(input_name="data", activity=DUMP_DATABASE)
def dump_database(data: dict) -> dict:
    target = DumpInput.model_validate(data).target
    with record_context(target.record):
        return _dump(target)


def _dump(target: BackupTarget) -> dict:
    record, blobs = target.record, services().blobs
    assert record.created_at is not None  # set by prepare_backup
    server, database = target.server, target.database
    policy = _policy(target)
    encryption = _encryption(policy)
    placement = _placement(policy, record)
    key_id = encryption.identity_id if encryption else None
    names = [
        backup_blob_name(server.id, database.id, record.created_at, record.id, server.engine, e)
        for e in (encryption is not None, encryption is None)
    ]
    name = names[0]
    for earlier in names:  # did an earlier attempt commit it (and its result get lost)?
        try:  # (with ENCRYPTION switched meanwhile, under the other name)
            committed = blobs.info(earlier)
        except BlobNotFound:
            continue
        return _succeeded(target, outcome_from_blob(committed), committed, placement, key_id)
    # The key is named on the record before anything is encrypted to it: a retirement
    # (http_api/keys.py) sees the backups still running under it and refuses.
    record, started = services().repositories.backups.update_unless_final(record, _running(key_id))
    if not started:
        return _not_dumped(record)
    unprotectable = _cannot_protect(placement)
    if unprotectable is not None:
        log.error("%s", unprotectable)
        _note_error(record, unprotectable)
        return dump_json(DumpOutcome(error=unprotectable))
    log.info("dump started: %s of %s on %s", database.name, server.engine, server.host)
    with RecordWatch(services(), record) as watch:
        request = _request(
            target,
            blob_name=name,
            progress=watch.progress,
            cancel=watch.cancel,
            encryption=encryption,
            # Committed without its immutability policy: that is set once the record is
            # final and successful (_protect), never on a blob a cancel may still deny.
            placement=replace(placement, immutable_until=None),
        )
        try:
            outcome = backup_worker(services().settings.backup_worker).dump(request)
        except BackupFailed as exc:
            if exc.reason == "exists":
                committed = blobs.info(name)
                fields = outcome_from_blob(committed)
                return _succeeded(target, fields, committed, placement, key_id)
            if watch.cancel.is_set():
                return _not_dumped(watch.record)
            return _attempt_failed(record, exc)
    fields = {**outcome_fields(outcome), "finished_at": wall_clock()}
    return _succeeded(target, fields, BlobInfo(name, outcome.stored_bytes), placement, key_id)


def _policy(target: BackupTarget) -> Policy | None:
    policy_id = target.database.policy_under(target.server)
    return services().repositories.policies.get(policy_id) if policy_id else None


def _encryption(policy: Policy | None) -> Encryption | None:
    """To whom this backup is encrypted: the service's current key (created on first use),
    ENCRYPTION's extra recipients, the policy's. None with ENCRYPTION=off."""
    settings = services().settings
    if not settings.encryption:
        return None
    identity = services().keys.current()
    extras = policy.encryption_recipients if policy else []
    return encryption_to(identity.id, identity.recipient, settings.backup_recipient_list, extras)


def _placement(policy: Policy | None, record: BackupRecord) -> BlobPlacement:
    settings = services().settings
    taken_at = record.slot_time or record.created_at
    assert taken_at is not None
    return placement_for(
        policy,
        record.tiers,
        taken_at,
        immutability=settings.immutability,
        locked=settings.immutability_mode is ImmutabilityMode.LOCKED,
    )


def _cannot_protect(placement: BlobPlacement) -> str | None:
    """Why a backup that must be immutable cannot be, before anything is dumped: a
    container without version-level immutability support can protect no blob, and that
    will not heal by itself (a permanent failure, not retried)."""
    until = placement.immutable_until
    if until is None or until <= wall_clock():
        return None
    try:
        if services().blobs.supports_immutability():
            return None
    except StorageFeatureMissing:
        pass
    container = services().settings.backup_container
    return (
        f"backup failed, nothing was dumped: its tiers are immutable until {until:%Y-%m-%d %H:%M} "
        f"UTC, but the container {container!r} has no version-level immutability support "
        "(StorageFeatureMissing); enable it on the container (the deploy template does) or "
        "set IMMUTABILITY=off"
    )


def _protect(record: BackupRecord, placement: BlobPlacement) -> BackupRecord:
    """Puts the blob of a record that is final and successful under its immutability
    policy, then records the date. Idempotent: a policy found on the blob is not asked for
    again. A date already past is not set (the storage would refuse it, and its tiers no
    longer keep the backup anyway)."""
    until = placement.immutable_until
    if until is None or record.immutable_until is not None or record.blob_name is None:
        return record
    if until <= wall_clock():
        log.warning(
            "backup %s not made immutable: its tiers keep it only until %s, already past",
            record.id,
            until.isoformat(),
        )
        return record
    blobs, name = services().blobs, record.blob_name
    current = blobs.info(name).immutable_until
    if current is None or current < until:
        try:
            blobs.set_immutability(name, until, locked=placement.immutability_locked)
        except StorageFeatureMissing as exc:
            # Checked before the dump; a storage that refuses all the same is reported,
            # the backup itself stays good (and unprotected: its record says no date).
            log.error("backup %s succeeded but is NOT immutable: %s", record.id, exc)
            return record
        except BlobStoreError as exc:
            raise AttemptFailed(f"backup committed, immutability not yet set: {exc}") from None
        current = until
    backups = services().repositories.backups
    return backups.update_fields(record, {"immutable_until": current})


def _running(key_id: str | None) -> Callable[[BackupRecord], dict[str, Any]]:
    """The record as a dump attempt starts: started_at is the first attempt's start, and
    the service key it is encrypted to is named."""

    def running(stored: BackupRecord) -> dict[str, Any]:
        started = stored.started_at or wall_clock()
        return {"status": BackupStatus.RUNNING, "started_at": started, "identity_id": key_id}

    return running


def _key_gone(key_id: str | None) -> str | None:
    """Why the backup cannot succeed if its service key was retired (crypto-shredded)
    while it ran: it would be a backup nobody can read through the service."""
    if key_id is None:
        return None
    key = services().keys.get(key_id)
    if key is None or key.state is not IdentityState.RETIRED:
        return None
    return (
        f"backup failed: key {key_id} was retired while the backup ran, so the service "
        "could not read it; its blob was deleted (the next backup uses the current key)"
    )


def _not_dumped(record: BackupRecord) -> dict:
    """The record was final before or while the dump ran (cancelled, or settled)."""
    reason = record.error or f"the backup is {record.status.value}"
    return dump_json(DumpOutcome(error=f"not dumped: {reason}"))


def _attempt_failed(record: BackupRecord, exc: BackupFailed) -> dict:
    message = clean_error(exc.message)
    log.warning("dump attempt failed (%s): %s", exc.reason, message)
    _note_error(record, message)
    if is_permanent(exc.reason, exc.message):
        return dump_json(DumpOutcome(error=message))
    raise AttemptFailed(message) from None


def _succeeded(
    target: BackupTarget,
    fields: dict[str, Any],
    committed: BlobInfo,
    placement: BlobPlacement,
    key_id: str | None,
) -> dict:
    """The record becomes succeeded with what the dump produced, in one conditional write;
    only then is the blob made immutable (_protect). If an earlier attempt recorded this blob
    already, that record (with the manifest, which the blob's metadata does not carry)
    stands. If the record was cancelled or settled meanwhile, the blob is deleted (it can
    be: it was never locked): no blob may look like a backup its record denies."""
    backups = services().repositories.backups
    gone = _key_gone(fields.get("identity_id") or key_id)
    if gone is not None:
        stored = backups.current(target.record) or target.record
        if stored.status is not BackupStatus.SUCCEEDED or stored.blob_name != committed.name:
            log.error("%s", gone)
            services().blobs.delete(committed.name)
            _note_error(stored, gone)
            return dump_json(DumpOutcome(error=gone))
    finished = {"finished_at": wall_clock(), **fields}
    update = {"status": BackupStatus.SUCCEEDED, "error": None, **finished}
    stored, changed = backups.update_unless_final(target.record, update)
    if changed:
        backup_ended(stored, target.server.engine)
    if changed or (stored.status is BackupStatus.SUCCEEDED and stored.blob_name == committed.name):
        return _result(_protect(stored, placement))
    services().blobs.delete(committed.name)
    return _not_dumped(stored)


def _result(record: BackupRecord) -> dict:
    assert record.blob_name and record.sha256 is not None
    result = DumpResult(
        record_id=record.id,
        blob_name=record.blob_name,
        raw_bytes=record.raw_bytes or 0,
        stored_bytes=record.stored_bytes or 0,
        sha256=record.sha256,
    )
    return dump_json(DumpOutcome(result=result))


@bp.activity_trigger(input_name="data", activity=FINISH_BACKUP)
def finish_backup(data: dict) -> dict:
    """A successful dump already recorded its success; a failure is recorded here (unless
    the record is final already: then it says what happened)."""
    ask = FinishBackupInput.model_validate(data)
    if ask.succeeded:
        return dump_json(FinishedBackup(record_id=ask.record_id, status=BackupStatus.SUCCEEDED))
    backups = services().repositories.backups
    record = backups.get(ask.database_id, ask.record_id)
    assert record is not None
    with record_context(record):
        return _failed(record, ask)


def _failed(record: BackupRecord, ask: FinishBackupInput) -> dict:

    def failed(stored: BackupRecord) -> dict[str, Any]:
        reason = stored.error or clean_error(ask.error or "backup failed")
        return {"status": BackupStatus.FAILED, "error": reason, "finished_at": wall_clock()}

    repositories = services().repositories
    record, changed = repositories.backups.update_unless_final(record, failed)
    if changed:
        backup_ended(record, engine_of(repositories.servers, record.server_id))
    return dump_json(FinishedBackup(record_id=record.id, status=record.status, error=record.error))
