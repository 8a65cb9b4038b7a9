"""The service's encryption keys (age identities): list, rotate, retire (crypto-shredding)."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from http_api import bp
from http_api.calls import Call, Reply
from http_api.errors import ApiError, conflict, not_found
from http_api.operations import operation
from http_api.schemas.keys import (
    AffectedBackup,
    BlockingBackup,
    KeyList,
    RetireBody,
    RetireReport,
)
from http_api.services import services
from shared.auth import Role
from shared.crypto.keys import IdentityState, KeyRefused, ServiceIdentity
from shared.models import BackupRecord
from shared.storage.backup_records import BackupRecordRepository

LIST = operation(
    "GET", "/keys", Role.READER, "List keys", tag="keys", response=KeyList,
    description="The service's age identities (public keys only), newest first.",
)  # fmt: skip
ROTATE = operation(
    "POST", "/keys/rotate", Role.ADMIN, "Rotate key", tag="keys", response=ServiceIdentity,
    status=201, action="key.rotate", errors=(409,),
    description="A new identity for new backups; old ones stay for the backups they encrypt.",
)  # fmt: skip
RETIRE = operation(
    "POST", "/keys/{key_id}/retire", Role.ADMIN, "Retire key", tag="keys", body=RetireBody,
    response=RetireReport, action="key.retire", errors=(409,),
    description="Crypto-shredding: deletes the identity's secret, so every backup encrypted "
    "to it becomes unreadable to the service. A dry run (the default) lists those backups.",
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_keys(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=ROTATE.route, methods=[ROTATE.method])
async def api_rotate_key(req: func.HttpRequest) -> func.HttpResponse:
    return await ROTATE.serve(req, _rotate)


@bp.route(route=RETIRE.route, methods=[RETIRE.method])
async def api_retire_key(req: func.HttpRequest) -> func.HttpResponse:
    return await RETIRE.serve(req, _retire)


def _list(call: Call) -> KeyList:
    found = services()
    settings = found.settings
    return KeyList(
        items=found.keys().all(),
        encryption=settings.encryption,
        extra_recipients=settings.backup_recipient_list,
    )


def _rotate(call: Call) -> Reply:
    created = services().keys().rotate()
    call.audit(f"keys/{created.id}", after=created)
    return Reply(created, status=201)


def _retire(call: Call) -> RetireReport:
    body: RetireBody = call.body()
    key_id = call.path_id("key_id")
    found = services()
    key = found.keys().get(key_id)
    if key is None:
        raise not_found("key", key_id)
    if key.current:
        raise conflict(f"key {key_id!r} is the current key: rotate first, then retire it")
    encrypted = found.repos.backups.encrypted_to(key_id)
    affected = [
        AffectedBackup(
            database_id=record.database_id,
            backup_id=record.id,
            blob_name=record.blob_name,
            extra_recipients=len(record.extra_recipients),
        )
        for record in encrypted
    ]
    blocked = _blocking(found.repos.backups, key_id, encrypted)
    report = RetireReport(
        key=key,
        dry_run=body.dry_run,
        unreadable=affected,
        readable_by_extra_recipients=sum(1 for a in affected if a.extra_recipients),
        blocked_by=blocked,
    )
    if body.dry_run:
        return report
    if key.state is IdentityState.RETIRED and found.keys().secret_of(key_id) is None:
        raise ApiError(409, "already_retired", f"key {key_id!r} was retired already")
    if blocked:
        listed = "; ".join(f"{b.database_id}/{b.backup_id}: {b.reason}" for b in blocked[:20])
        more = f" (and {len(blocked) - 20} more)" if len(blocked) > 20 else ""
        raise ApiError(
            409,
            "key_protects_backups",
            f"key {key_id!r} cannot be retired: shredding it would destroy backups that must "
            f"be kept or are being taken: {listed}{more}",
            [b.model_dump(mode="json") for b in blocked],
        )
    call.audit_attempt(before=key, details={"unreadable": len(affected)})
    try:
        retired, secret = found.keys().retire(key_id)
    except KeyRefused as exc:
        raise conflict(str(exc)) from None
    details = {"unreadable": len(affected), "identity_outcome": secret}
    call.audit(before=key, after=retired, details=details)
    return report.model_copy(update={"key": retired, "secret": secret})


def _blocking(
    backups: BackupRecordRepository, key_id: str, encrypted: list[BackupRecord]
) -> list[BlockingBackup]:
    """The backups retiring the key would wrongly destroy: a legal hold or an unexpired
    immutability policy says it must stay readable (shredding its key destroys it as surely
    as deleting it), and a backup still running with the key would be unreadable at birth."""
    now = datetime.now(UTC)
    blocking = []
    for record in encrypted:
        reasons = []
        if record.legal_hold:
            reasons.append("under a legal hold")
        until = record.immutable_until
        if until is not None and (until if until.tzinfo else until.replace(tzinfo=UTC)) > now:
            reasons.append(f"immutable until {until:%Y-%m-%d %H:%M} UTC")
        if reasons:
            blocking.append(
                BlockingBackup(
                    database_id=record.database_id, backup_id=record.id, reason=", ".join(reasons)
                )
            )
    blocking += [
        BlockingBackup(
            database_id=record.database_id,
            backup_id=record.id,
            reason=f"{record.status.value} with this key",
        )
        for record in backups.unfinished()
        if record.identity_id == key_id
    ]
    return blocking
