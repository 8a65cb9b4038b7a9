"""`GET /api/jobs`: the jobs running now, with their phase and, for a dump, the bytes so far.

The phase comes from the orchestration's custom status; the bytes from the backup record,
which a running dump rewrites now and then (an orchestration cannot hear from a running
activity).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.durable import running_jobs
from http_api.errors import ApiError
from http_api.operations import operation
from http_api.schemas.insights import JobList, JobProgress
from http_api.services import services
from shared import jobs
from shared.auth import Role

log = logging.getLogger(__name__)

LIST = operation(
    "GET", "/jobs", Role.READER, "List running jobs", tag="jobs", response=JobList,
    description="Backups, verifications, restores and restore drills that are pending or "
    "running (the policy and drill loops and the freshness check are not listed).",
)  # fmt: skip
SHOWN = 100
# Instance ids as shared.jobs makes them; the database id is what lies between.
_MANUAL = re.compile(r"^manual-(?P<db>[a-z0-9-]+)-[0-9a-f]{12}$")
_SCHEDULED = re.compile(r"^backup-(?P<db>[a-z0-9-]+)-\d{8}T\d{4}Z$")
_DRILL = re.compile(r"^drill-(?P<db>[a-z0-9-]+)-(\d{8}T\d{4}Z|manual-[0-9a-f]{12})$")
KINDS = {
    jobs.BACKUP_DATABASE: "backup",
    jobs.VERIFY_BACKUP: "verify",
    jobs.RESTORE_BACKUP: "restore",
    jobs.DRILL_DATABASE: "drill",
}


def database_of(instance_id: str, backup_id: str | None) -> str | None:
    """The database a job works on, read back from its instance id."""
    for pattern in (_MANUAL, _SCHEDULED, _DRILL):
        if found := pattern.match(instance_id):
            return found.group("db")
    if backup_id:
        for prefix in ("verify-", "restore-"):
            middle = f"-{backup_id}-"
            if instance_id.startswith(prefix) and middle in instance_id:
                return instance_id[len(prefix) : instance_id.rindex(middle)]
    return None


def progress(status: Any) -> JobProgress:
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    backup_id = custom.get("backup_id")
    runtime = getattr(status.runtime_status, "value", status.runtime_status)
    return JobProgress(
        instance_id=status.instance_id,
        kind=KINDS.get(status.name, status.name or "unknown"),
        database_id=database_of(status.instance_id, backup_id),
        runtime_status=runtime,
        phase=custom.get("phase"),
        record_id=custom.get("record_id"),
        backup_id=backup_id,
        created_time=status.created_time,
        last_updated_time=status.last_updated_time,
    )


def _with_bytes(job: JobProgress) -> JobProgress:
    if not (job.kind == "backup" and job.database_id and job.record_id):
        return job
    record = services().repos.backups.get(job.database_id, job.record_id)
    if record is None:
        return job
    update = {
        "started_at": record.started_at,
        "raw_bytes": record.raw_bytes,
        "stored_bytes": record.stored_bytes,
    }
    return job.model_copy(update=update)


@bp.route(route=LIST.route, methods=[LIST.method])
@bp.durable_client_input(client_name="client")
async def api_list_jobs(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> JobList:
        try:
            statuses = await running_jobs(client, SHOWN)
        except Exception as exc:
            raise ApiError(503, "unavailable", "the job store did not answer") from exc
        running = [progress(status) for status in statuses]
        items = await asyncio.to_thread(lambda: [_with_bytes(job) for job in running])
        return JobList(items=items)

    return await LIST.serve(req, handle)
