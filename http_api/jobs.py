"""Durable jobs started on demand: backup now, verify, restore, their status, and cancel."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.backups import backup_or_404, readable_or_409
from http_api.calls import Call, Reply
from http_api.durable import accepted, job_status
from http_api.errors import ApiError, conflict, invalid, not_found
from http_api.ids import INSTANCE_ID
from http_api.lookups import database_or_404
from http_api.operations import operation
from http_api.schemas.backups import RestoreBody
from http_api.schemas.common import JobAccepted, JobStatus
from http_api.services import Services, services
from http_api.visibility import job_output_shown_to
from orchestrators.settlement import runtime_status
from shared import jobs
from shared.auth import Role
from shared.job_events import backup_ended, engine_of
from shared.locks import LeaseRelease
from shared.models import (
    FINAL_STATUSES,
    BackupRecord,
    BackupStatus,
    Engine,
    Trigger,
    engine_family,
)

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
CANCEL = operation(
    "POST",
    "/jobs/{instance_id}/cancel",
    Role.OPERATOR,
    "Cancel job",
    tag="jobs",
    response=JobAccepted,
    status=202,
    action="job.cancel",
    errors=(404, 409),
    description="Stops a running backup or verify job. A backup's dump is stopped (nothing "
    "is committed), its record becomes `cancelled`, and its database lock and server slot "
    "are released. A restore cannot be cancelled: stopped halfway it would leave a partly "
    "restored database.",
)
# Jobs a cancel may stop, with whether they hold a backup record.
CANCELLABLE = {jobs.BACKUP_DATABASE: True, jobs.VERIFY_BACKUP: False}


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
        return accepted(instance_id, record.id)

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
        details = {"instance_id": instance_id, **jobs.dump_json(job)}
        if job.allow_non_empty:  # may overwrite a database's data: a trace before it starts
            await asyncio.to_thread(call.audit_attempt, details=details)
        await client.start_new(jobs.RESTORE_BACKUP, instance_id, jobs.dump_json(job))
        await asyncio.to_thread(call.audit, details=details)
        return accepted(instance_id, job.backup_id)

    return await RESTORE.serve(req, handle)


@bp.route(route=STATUS.route, methods=[STATUS.method])
@bp.durable_client_input(client_name="client")
async def api_get_job(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> JobStatus:
        status = job_status(await _job(client, req))
        failed = status.result is jobs.JobResult.FAILED
        output = job_output_shown_to(call, status.output, failed, status.name)
        return status.model_copy(update={"output": output})

    return await STATUS.serve(req, handle)


@bp.route(route=CANCEL.route, methods=[CANCEL.method])
@bp.durable_client_input(client_name="client")
async def api_cancel_job(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        status = await _job(client, req, show_input=True)
        instance_id, name = status.instance_id, status.name
        if name not in CANCELLABLE:
            raise conflict(f"a {name} job cannot be cancelled")
        runtime = runtime_status(status)
        if runtime not in jobs.RUNNING_STATUSES:
            raise conflict(f"the job has ended ({runtime})")
        record_id = jobs.backup_record_id(instance_id) if CANCELLABLE[name] else None
        if record_id is not None:
            job = jobs.BackupJob.model_validate(_input(status))
            await asyncio.to_thread(_not_final, job.database_id, record_id)
        try:  # first, so that the job writes nothing more
            await client.terminate(instance_id, "cancelled through the API")
        except Exception as exc:
            raise conflict("the job has ended meanwhile") from exc
        if record_id is not None:
            record = await asyncio.to_thread(_cancel_record, job.database_id, record_id)
            servers = [record.server_id] if record is not None else []
            await _release_leases(client, instance_id, job.database_id, servers)
        details = {"instance_id": instance_id, "job": name, "record_id": record_id}
        await asyncio.to_thread(call.audit, details=details)
        return accepted(instance_id, record_id)

    return await CANCEL.serve(req, handle)


async def _job(
    client: df.DurableOrchestrationClient, req: func.HttpRequest, *, show_input: bool = False
) -> Any:
    """The job's status; 400 for a malformed id, 404 for an unknown job."""
    instance_id = req.route_params.get("instance_id", "")
    if not INSTANCE_ID.match(instance_id):
        raise ApiError(400, "invalid_id", "not a valid instance id")
    try:  # an unknown instance is an empty status, not an exception
        status = await client.get_status(instance_id, show_input=show_input)
    except Exception as exc:
        raise ApiError(503, "unavailable", "the job store did not answer") from exc
    if runtime_status(status) is None:
        raise not_found("job", instance_id)
    return status


def _input(status: Any) -> Any:
    raw = status.input_
    return json.loads(raw) if isinstance(raw, str) else raw


def _not_final(database_id: str, record_id: str) -> None:
    """409 when the backup has ended already (its job is only applying retention, say)."""
    record = services().repos.backups.get(database_id, record_id)
    if record is not None and record.status in FINAL_STATUSES:
        raise conflict(f"the backup has ended ({record.status.value})")


def _cancel_record(database_id: str, record_id: str) -> BackupRecord | None:
    """The backup's record becomes cancelled, unless it is final already (then it says what
    happened); None when the job had not made it yet. A dump still running sees the change
    within seconds and stops (activities/backup_records.RecordWatch)."""
    repos = services().repos
    record = repos.backups.get(database_id, record_id)
    if record is None:
        return None
    cancelled = {
        "status": BackupStatus.CANCELLED,
        "error": "cancelled through the API",
        "finished_at": datetime.now(UTC),
    }
    record, changed = repos.backups.update_unless_final(record, cancelled)
    if changed:
        backup_ended(record, engine_of(repos.servers, record.server_id))
    return record


async def _release_leases(
    client: df.DurableOrchestrationClient, owner: str, database_id: str, server_ids: list[str]
) -> None:
    """A terminated job runs no code: its leases are released for it (releasing a lease
    it does not hold changes nothing)."""
    release = jobs.dump_json(LeaseRelease(owner=owner))
    entities = [df.EntityId(jobs.DATABASE_ENTITY, database_id)]
    entities += [df.EntityId(jobs.SERVER_ENTITY, server_id) for server_id in server_ids]
    for entity in entities:
        await client.signal_entity(entity, "release", release)


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
    if source is not None and engine_family(source) != engine_family(target_server.engine):
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
