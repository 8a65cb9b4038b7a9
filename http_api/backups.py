"""Backups: list (filters, newest first, paged), read, download link, delete; legal hold
and rehydration of archived blobs."""

from __future__ import annotations

import azure.functions as func

from http_api import bp
from http_api.backup_listing import list_backups
from http_api.calls import Call, Reply
from http_api.errors import ApiError, conflict, not_found
from http_api.operations import operation
from http_api.removal import protected_409, remove_backup
from http_api.schemas.backups import BackupListQuery, BackupPage, DownloadLink, Rehydration
from http_api.services import Services, services
from http_api.visibility import record_shown_to
from shared.auth import Role
from shared.models import AccessTier, BackupRecord, BackupStatus
from shared.storage.blobs import BlobInfo, BlobNotFound, BlobProtected, StorageFeatureMissing
from shared.storage.sas import download_url

PATH = "/backups/{database_id}/{backup_id}"

LIST = operation(
    "GET",
    "/backups",
    Role.READER,
    "List backups",
    tag="backups",
    query=BackupListQuery,
    response=BackupPage,
    description="Newest first. Without database_id every database is merged, which costs "
    "one query per database.",
)
GET = operation("GET", PATH, Role.READER, "Get backup", tag="backups", response=BackupRecord)
DOWNLOAD = operation(
    "GET",
    PATH + "/download",
    Role.OPERATOR,
    "Download link",
    tag="backups",
    response=DownloadLink,
    action="backup.download",
    errors=(409,),
    description="A read-only link to this one blob, valid for at most one hour.",
)
DELETE = operation(
    "DELETE", PATH, Role.ADMIN, "Delete backup", tag="backups", status=204,
    action="backup.delete", errors=(409,),
    description="Refused (409) while the backup is under a legal hold or immutable.",
)  # fmt: skip
HOLD = operation(
    "PUT", PATH + "/legal-hold", Role.ADMIN, "Set legal hold", tag="backups",
    response=BackupRecord, action="backup.legal_hold.set", errors=(409,),
    description="Nobody can delete or overwrite the blob until the hold is cleared; "
    "retention keeps it ('kept: legal hold').",
)  # fmt: skip
RELEASE = operation(
    "DELETE", PATH + "/legal-hold", Role.ADMIN, "Clear legal hold", tag="backups",
    response=BackupRecord, action="backup.legal_hold.clear", errors=(409,),
)  # fmt: skip
REHYDRATE = operation(
    "POST", PATH + "/rehydrate", Role.OPERATOR, "Rehydrate backup", tag="backups",
    response=Rehydration, status=202, action="backup.rehydrate", errors=(409,),
    description="Moves an archived blob back to the Hot tier (standard priority: up to "
    "15 hours); download, verify and restore work once it is done.",
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_backup_records(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=GET.route, methods=[GET.method])
async def api_get_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await GET.serve(req, lambda call: record_shown_to(call, backup_or_404(services(), call)))


@bp.route(route=DOWNLOAD.route, methods=[DOWNLOAD.method])
async def api_download_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await DOWNLOAD.serve(req, _download)


@bp.route(route=DELETE.route, methods=[DELETE.method])
async def api_delete_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await DELETE.serve(req, _delete)


@bp.route(route=HOLD.route, methods=[HOLD.method])
async def api_set_legal_hold(req: func.HttpRequest) -> func.HttpResponse:
    return await HOLD.serve(req, lambda call: _legal_hold(call, True))


@bp.route(route=RELEASE.route, methods=[RELEASE.method])
async def api_clear_legal_hold(req: func.HttpRequest) -> func.HttpResponse:
    return await RELEASE.serve(req, lambda call: _legal_hold(call, False))


@bp.route(route=REHYDRATE.route, methods=[REHYDRATE.method])
async def api_rehydrate_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await REHYDRATE.serve(req, _rehydrate)


def _list(call: Call) -> BackupPage:
    page = list_backups(services(), call.query())
    return page.model_copy(update={"items": [record_shown_to(call, item) for item in page.items]})


def backup_or_404(found: Services, call: Call) -> BackupRecord:
    database_id = call.path_id("database_id")
    backup_id = call.path_id("backup_id")
    record = found.repos.backups.get(database_id, backup_id)
    if record is None:
        raise not_found("backup", f"{database_id}/{backup_id}")
    return record


def succeeded_or_409(record: BackupRecord) -> str:
    if record.status is not BackupStatus.SUCCEEDED or not record.blob_name:
        raise ApiError(409, "not_available", f"the backup is {record.status.value}, not available")
    return record.blob_name


def readable_or_409(found: Services, record: BackupRecord) -> None:
    """409 when the blob is archived (rehydration takes hours: say what to do). A missing
    blob is left to the job or the link to report, as before."""
    blob_name = succeeded_or_409(record)
    try:
        info: BlobInfo = found.blobs().info(blob_name)
    except BlobNotFound:
        return
    if info.archived:
        pending = info.archive_status
        what = (
            f"it is being rehydrated ({pending}); that takes up to 15 hours: try again later"
            if pending
            else "rehydrate it first (POST .../rehydrate), then try again once it is done "
            "(up to 15 hours)"
        )
        raise ApiError(409, "archived", f"the backup is in the Archive tier: {what}")


def _download(call: Call) -> DownloadLink:
    found = services()
    record = backup_or_404(found, call)
    blob_name = succeeded_or_409(record)
    readable_or_409(found, record)
    url, expires_at = download_url(found.settings, blob_name)
    call.audit(details={"blob_name": blob_name, "expires_at": expires_at})
    return DownloadLink(
        url=url, expires_at=expires_at, blob_name=blob_name, sha256=record.sha256,
        stored_bytes=record.stored_bytes, compression=record.compression,
        encryption=record.encryption, key_id=record.identity_id,
    )  # fmt: skip


def _delete(call: Call) -> Reply:
    found = services()
    record = backup_or_404(found, call)
    if record.status in (BackupStatus.QUEUED, BackupStatus.RUNNING):
        raise conflict(f"the backup is {record.status.value}; wait until it finishes")
    protected_409(record)
    call.audit_attempt(before=record)
    try:
        remove_backup(found, record)
    except BlobProtected as exc:  # the storage knows of a hold or policy the record does not
        raise conflict(str(exc)) from None
    call.audit(before=record)
    return Reply(status=204)


def _legal_hold(call: Call, hold: bool) -> BackupRecord:
    """On the blob first (the storage enforces it), then on the record (retention reads it)."""
    found = services()
    record = backup_or_404(found, call)
    blob_name = succeeded_or_409(record)
    if not hold:  # clearing a hold lets the backup be deleted: a trace before acting
        call.audit_attempt(details={"blob_name": blob_name, "legal_hold": hold})
    try:
        found.blobs().set_legal_hold(blob_name, hold)
    except StorageFeatureMissing as exc:
        raise ApiError(409, "storage_unsupported", str(exc)) from None
    updated = found.repos.backups.replace(record.model_copy(update={"legal_hold": hold}))
    call.audit(details={"blob_name": blob_name, "legal_hold": hold})
    return updated


def _rehydrate(call: Call) -> Reply:
    found = services()
    record = backup_or_404(found, call)
    blob_name = succeeded_or_409(record)
    info = found.blobs().info(blob_name)
    if not info.archived:
        raise ApiError(409, "not_archived", f"the backup is not archived ({info.access_tier})")
    if not info.archive_status:
        found.blobs().set_access_tier(blob_name, AccessTier.HOT.value)
    found.repos.backups.replace(record.model_copy(update={"access_tier": AccessTier.HOT}))
    call.audit(details={"blob_name": blob_name, "already": info.archive_status})
    message = (
        "rehydration to the Hot tier started (standard priority): it takes up to 15 hours; "
        "download, verify and restore answer 409 until it is done"
    )
    return Reply(Rehydration(blob_name=blob_name, message=message), status=202)
