"""Client-side helpers that find backups left unfinished and start their settlement
(`settle_backup`): for the watchdog, and for a backup that finds a finished job's lease in
its way."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.wiring import services
from shared.jobs import (
    BACKUP_DATABASE,
    RUNNING_STATUSES,
    SETTLE_BACKUP,
    BackupJob,
    SettleJob,
    backup_record_id,
    dump_json,
    settle_instance_id,
)
from shared.models import BackupRecord

log = logging.getLogger(__name__)

_WHY = {
    "Terminated": "its {} job was terminated",
    "Failed": "its {} job failed before recording the result",
    "Completed": "its {} job ended without recording the result",
    "Canceled": "its {} job was cancelled",
}


def runtime_status(status: Any) -> str | None:
    """The runtime status as text; None when there is no such instance."""
    if status is None or not getattr(status, "instance_id", None):
        return None
    runtime = getattr(status, "runtime_status", None)
    return getattr(runtime, "value", runtime)


def why_unfinished(runtime: str | None, job: str = "backup") -> str:
    return _WHY.get(runtime or "", "its {} job no longer exists").format(job)


async def start_settlement(client: df.DurableOrchestrationClient, job: SettleJob) -> bool:
    """Starts `settle_backup` for the job unless a settlement of it is running; True when
    started. (A settlement that ended is started again: it changes nothing twice.)"""
    instance_id = settle_instance_id(job.holder or job.record_id)
    if runtime_status(await client.get_status(instance_id)) in RUNNING_STATUSES:
        return False
    await client.start_new(SETTLE_BACKUP, instance_id, dump_json(job))
    return True


async def settle_if_finished(
    client: df.DurableOrchestrationClient, holder: str, status: Any
) -> None:
    """`status` (with its input) is of a lease holder that no longer runs: if it was a backup,
    its record is settled."""
    if getattr(status, "name", None) != BACKUP_DATABASE:
        return
    raw = getattr(status, "input_", None)
    try:
        job = BackupJob.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
    except (ValueError, TypeError):
        return
    reason = f"not finished: {why_unfinished(runtime_status(status))}"
    settle = SettleJob(
        database_id=job.database_id,
        record_id=backup_record_id(holder),
        holder=holder,
        reason=reason,
    )
    await start_settlement(client, settle)


async def _orphan(
    client: df.DurableOrchestrationClient, record: BackupRecord, now: datetime
) -> SettleJob | None:
    """The settlement a queued or running record needs, if its job no longer runs."""
    if record.instance_id is None:  # written before records named their job
        lease = timedelta(seconds=services().settings.backup_lease_seconds)
        if record.updated_at is None or now - record.updated_at < lease:
            return None
        reason = "not finished: left unfinished by a backup job that is not known"
        return SettleJob(database_id=record.database_id, record_id=record.id, reason=reason)
    runtime = runtime_status(await client.get_status(record.instance_id))
    if runtime in RUNNING_STATUSES:
        return None
    return SettleJob(
        database_id=record.database_id,
        record_id=record.id,
        holder=record.instance_id,
        reason=f"not finished: {why_unfinished(runtime)}",
    )


async def settle_orphans(client: df.DurableOrchestrationClient) -> int:
    """Starts the settlement of every queued or running record whose job no longer runs;
    how many were started."""
    unfinished = await asyncio.to_thread(services().repositories.backups.unfinished)
    now, started = datetime.now(UTC), 0
    for record in unfinished:
        try:
            job = await _orphan(client, record, now)
            if job is not None and await start_settlement(client, job):
                started += 1
                log.warning("backup %s of %s: %s", record.id, record.database_id, job.reason)
        except Exception:  # one record must not keep the others unsettled
            log.exception("could not check backup %s of %s", record.id, record.database_id)
    return started
