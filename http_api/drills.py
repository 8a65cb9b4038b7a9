"""Restore drills of one database: its drills, newest first, and a drill now.

A drill restores a backup into a scratch database with a reserved name, compares it with
the backup's manifest, records the time it took and drops the scratch database
(orchestrators/drill_database.py). Starting one needs the operator role, like verify: it
proves a backup, and writes nothing but that scratch database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import datetime

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.calls import Call, Reply
from http_api.durable import accepted
from http_api.errors import ApiError, not_found
from http_api.lookups import database_or_404
from http_api.operations import operation
from http_api.schemas.common import JobAccepted
from http_api.schemas.drills import DrillBody, DrillListQuery, DrillPage
from http_api.services import Services, services
from http_api.visibility import drill_shown_to
from shared import jobs
from shared.auth import Role
from shared.insights import LastDrill, last_drill
from shared.models import BackupStatus, Database, Trigger

PATH = "/databases/{database_id}/drills"

LIST = operation(
    "GET", PATH, Role.READER, "List drills", tag="drills", query=DrillListQuery,
    response=DrillPage,
    description="The database's restore drills, newest first: the backup restored, where, "
    "how long the restore took (`restore_seconds`, the achieved RTO), its throughput and "
    "what the comparison with the manifest found. The newest DRILL_RECORDS_KEEP are kept.",
)  # fmt: skip
START = operation(
    "POST", PATH, Role.OPERATOR, "Drill now", tag="drills", body=DrillBody,
    response=JobAccepted, status=202, action="drill.start", errors=(404, 409),
    description="Restores the newest successful backup (or `backup_id`) into a scratch "
    "database, compares it with the manifest and drops it. `record_id` is the drill's record.",
)  # fmt: skip


@bp.route(route=LIST.route, methods=[LIST.method])
async def api_list_drills(req: func.HttpRequest) -> func.HttpResponse:
    return await LIST.serve(req, _list)


@bp.route(route=START.route, methods=[START.method])
@bp.durable_client_input(client_name="client")
async def api_drill_now(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> Reply:
        job = await asyncio.to_thread(_drill_job, call)
        instance_id = jobs.manual_drill_instance_id(job.database_id, uuid.uuid4().hex[:12])
        await client.start_new(jobs.DRILL_DATABASE, instance_id, jobs.dump_json(job))
        drill_id = jobs.drill_record_id(instance_id)
        details = {"instance_id": instance_id, "drill_id": drill_id, "backup_id": job.backup_id}
        await asyncio.to_thread(call.audit, f"databases/{job.database_id}", details=details)
        return accepted(instance_id, drill_id)

    return await START.serve(req, handle)


def _list(call: Call) -> DrillPage:
    query: DrillListQuery = call.query()
    found = services()
    database = database_or_404(found, call.path_id("database_id"))
    page = found.repos.drills.list_by_database(database.id, query.page_size, query.continuation)
    return DrillPage(
        items=[drill_shown_to(call, r) for r in page.items], continuation=page.continuation
    )


def _drill_job(call: Call) -> jobs.DrillJob:
    found = services()
    database = database_or_404(found, call.path_id("database_id"))
    body: DrillBody = call.body()
    if body.backup_id is not None:
        record = found.repos.backups.get(database.id, body.backup_id)
        if record is None:
            raise not_found("backup", f"{database.id}/{body.backup_id}")
        if record.status is not BackupStatus.SUCCEEDED or not record.blob_name:
            raise ApiError(409, "not_available", f"the backup is {record.status.value}")
    return jobs.DrillJob(database_id=database.id, trigger=Trigger.MANUAL, backup_id=body.backup_id)


def latest_drills(
    call: Call, found: Services, databases: Iterable[Database], now: datetime
) -> dict[str, LastDrill]:
    """Each database's latest drill (one request per database), as the caller may see it."""
    drills = {}
    for database in databases:
        newest = found.repos.drills.newest(database.id)
        if newest is not None:
            drills[database.id] = last_drill(drill_shown_to(call, newest), now)
    return drills
