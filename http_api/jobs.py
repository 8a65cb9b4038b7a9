"""Durable jobs started on demand: backup now, verify, restore, and their status."""

from __future__ import annotations

import asyncio
import uuid

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.backups import backup_or_404, readable_or_409
from http_api.calls import Call, Reply
from http_api.durable import accepted, job_status
from http_api.errors import ApiError, invalid, not_found
from http_api.ids import INSTANCE_ID
from http_api.lookups import database_or_404
from http_api.operations import operation
from http_api.schemas.backups import RestoreBody
from http_api.schemas.common import JobAccepted, JobStatus
from http_api.services import Services, services
from shared import jobs
from shared.auth import Role
from shared.models import BackupRecord, Engine, Trigger

BACKUP = "/backups/{database_id}/{backup_id}"

BACKUP_NOW = operation(
    "POST",
    "/databases/{database_id}/backups",
    Role.OPERATOR,
    "Backup now",
    tag="backups",
    response=JobAccepted,
    status=202,
    action="backup.start",
)
VERIFY = operation(
    "POST",
    BACKUP + "/verify",
    Role.OPERATOR,
    "Verify backup",
    tag="backups",
    response=JobAccepted,
    status=202,
    action="backup.verify",
    errors=(409,),
)
RESTORE = operation(
    "POST",
    BACKUP + "/restore",
    Role.ADMIN,
    "Restore backup",
    tag="backups",
    body=RestoreBody,
    response=JobAccepted,
    status=202,
    action="backup.restore",
    errors=(409,),
)
STATUS = operation(
    "GET", "/jobs/{instance_id}", Role.READER, "Get job", tag="jobs", response=JobStatus,
)  # fmt: skip


@bp.route(route=BACKUP_NOW.route, methods=[BACKUP_NOW.method])
@bp.durable_client_input(client_name="client")
async def api_backup_now(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        database_id = call.path_id("database_id")
        await asyncio.to_thread(database_or_404, services(), database_id)
        instance_id = jobs.manual_backup_instance_id(database_id, uuid.uuid4().hex[:12])
        job = jobs.BackupJob(database_id=database_id, trigger=Trigger.MANUAL)
        await client.start_new(jobs.BACKUP_DATABASE, instance_id, jobs.dump_json(job))
        record_id = jobs.backup_record_id(instance_id)
        details = {"instance_id": instance_id, "record_id": record_id}
        await asyncio.to_thread(call.audit, f"databases/{database_id}", details=details)
        return accepted(instance_id, record_id)

    return await BACKUP_NOW.serve(req, handle)


@bp.route(route=VERIFY.route, methods=[VERIFY.method])
@bp.durable_client_input(client_name="client")
async def api_verify_backup(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        record = await asyncio.to_thread(backup_or_404, services(), call)
        await asyncio.to_thread(readable_or_409, services(), record)
        instance_id = jobs.verify_instance_id(record.database_id, record.id, uuid.uuid4().hex[:12])
        job = jobs.VerifyJob(database_id=record.database_id, backup_id=record.id)
        await client.start_new(jobs.VERIFY_BACKUP, instance_id, jobs.dump_json(job))
        await asyncio.to_thread(call.audit, details={"instance_id": instance_id})
        return accepted(instance_id)

    return await VERIFY.serve(req, handle)


@bp.route(route=RESTORE.route, methods=[RESTORE.method])
@bp.durable_client_input(client_name="client")
async def api_restore_backup(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        job = await asyncio.to_thread(_restore_job, call)
        instance_id = jobs.restore_instance_id(
            job.database_id, job.backup_id, uuid.uuid4().hex[:12]
        )
        await client.start_new(jobs.RESTORE_BACKUP, instance_id, jobs.dump_json(job))
        details = {"instance_id": instance_id, **jobs.dump_json(job)}
        await asyncio.to_thread(call.audit, details=details)
        return accepted(instance_id)

    return await RESTORE.serve(req, handle)


@bp.route(route=STATUS.route, methods=[STATUS.method])
@bp.durable_client_input(client_name="client")
async def api_get_job(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> JobStatus:
        instance_id = req.route_params.get("instance_id", "")
        if not INSTANCE_ID.match(instance_id):
            raise ApiError(400, "invalid_id", "not a valid instance id")
        try:  # an unknown instance is an empty status, not an exception
            status = await client.get_status(instance_id)
        except Exception as exc:
            raise ApiError(503, "unavailable", "the job store did not answer") from exc
        if not status.instance_id or status.runtime_status is None:
            raise not_found("job", instance_id)
        return job_status(status)

    return await STATUS.serve(req, handle)


def _restore_job(call: Call) -> jobs.RestoreJob:
    body: RestoreBody = call.body()
    found = services()
    record = backup_or_404(found, call)
    readable_or_409(found, record)
    target = body.target_server_id or record.server_id
    target_server = found.repos.servers.get(target)
    if target_server is None:
        raise invalid("body.target_server_id", f"server {target!r} does not exist")
    source = target_server.engine if target == record.server_id else _source_engine(found, record)
    if source is not None and _family(source) != _family(target_server.engine):
        # Refused here: the job would create the target database before failing.
        raise invalid(
            "body.target_server_id",
            f"server {target!r} runs {target_server.engine.value}; the backup is of {source.value}",
        )
    return jobs.RestoreJob(
        database_id=record.database_id, backup_id=record.id, target_database=body.target_database,
        target_server_id=target, allow_non_empty=body.allow_non_empty,
    )  # fmt: skip


def _source_engine(found: Services, record: BackupRecord) -> Engine | None:
    """The engine the backup was taken from: its server's, else the one its manifest names."""
    server = found.repos.servers.get(record.server_id)
    if server is not None:
        return server.engine
    return record.manifest.engine if record.manifest is not None else None


def _family(engine: Engine) -> Engine:
    """MySQL and MariaDB dumps restore into each other."""
    return Engine.MYSQL if engine is Engine.MARIADB else engine
