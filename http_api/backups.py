"""Backups: list (filters, newest first, paged), read, download link, delete."""

from __future__ import annotations

import azure.functions as func

from http_api import bp
from http_api.backup_listing import list_backups
from http_api.calls import Call, Reply
from http_api.errors import ApiError, conflict, not_found
from http_api.operations import operation
from http_api.removal import remove_backup
from http_api.schemas.backups import BackupListQuery, BackupPage, DownloadLink
from http_api.services import Services, services
from shared.auth import Role
from shared.models import BackupRecord, BackupStatus
from shared.public_errors import public_error
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
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_backup_records(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=GET.route, methods=[GET.method])
async def api_get_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await GET.serve(req, lambda call: shown_to(call, backup_or_404(services(), call)))


@bp.route(route=DOWNLOAD.route, methods=[DOWNLOAD.method])
async def api_download_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await DOWNLOAD.serve(req, _download)


@bp.route(route=DELETE.route, methods=[DELETE.method])
async def api_delete_backup(req: func.HttpRequest) -> func.HttpResponse:
    return await DELETE.serve(req, _delete)


def _list(call: Call) -> BackupPage:
    page = list_backups(services(), call.query())
    return page.model_copy(update={"items": [shown_to(call, item) for item in page.items]})


def shown_to(call: Call, record: BackupRecord) -> BackupRecord:
    """Admins see a failure's own text; other roles the fixed sentence of its class
    (the raw text may hold the server's words, the caller's address, a tool's stderr)."""
    if record.error is None or call.principal.may(Role.ADMIN):
        return record
    return record.model_copy(update={"error": public_error(record.error)})


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


def _download(call: Call) -> DownloadLink:
    found = services()
    record = backup_or_404(found, call)
    blob_name = succeeded_or_409(record)
    url, expires_at = download_url(found.settings, blob_name)
    call.audit(details={"blob_name": blob_name, "expires_at": expires_at})
    return DownloadLink(
        url=url, expires_at=expires_at, blob_name=blob_name, sha256=record.sha256,
        stored_bytes=record.stored_bytes, compression=record.compression,
    )  # fmt: skip


def _delete(call: Call) -> Reply:
    found = services()
    record = backup_or_404(found, call)
    if record.status in (BackupStatus.QUEUED, BackupStatus.RUNNING):
        raise conflict(f"the backup is {record.status.value}; wait until it finishes")
    remove_backup(found, record)
    call.audit(before=record)
    return Reply(status=204)
