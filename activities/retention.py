"""`apply_retention`: plan a database's retention (shared.retention) and carry it out.

Deleting is three idempotent steps, so a half-done deletion is finished by the next run:
mark the record expired (keeping its blob name), delete the blob (already gone counts as
deleted), clear the blob name. Failed records past FAILED_RECORD_KEEP_DAYS are removed.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from activities import bp
from activities.wiring import Services, services
from shared.jobs import (
    APPLY_RETENTION,
    RetentionDecisionOut,
    RetentionInput,
    RetentionResult,
    dump_json,
)
from shared.models import BackupRecord, BackupStatus
from shared.retention import RetentionAction, RetentionPlan, plan_retention
from shared.storage.blobs import BlobNotFound


def _policy_of(services: Services, database_id: str) -> str | None:
    repositories = services.repositories
    database = repositories.databases.get(database_id)
    if database is None:
        return None
    server = repositories.servers.get(database.server_id)
    return database.policy_under(server)


def plan_for_database(
    services: Services, database_id: str, now: datetime, policy_id: str | None = None
) -> tuple[RetentionPlan | None, dict[str, BackupRecord]]:
    """The plan for one database under its effective policy (None without a policy).
    Also what a retention dry run shows."""
    repositories, settings = services.repositories, services.settings
    if policy_id is None:
        policy_id = _policy_of(services, database_id)
    policy = repositories.policies.get(policy_id) if policy_id else None
    if policy is None:
        return None, {}
    records = {
        record.id: record for record in repositories.backups.retention_candidates(database_id)
    }
    plan = plan_retention(
        list(records.values()),
        policy,
        now,
        manual_keep_days=settings.manual_backup_keep_days,
        failed_keep_days=settings.failed_record_keep_days,
        max_deletes=settings.retention_max_deletes_per_run,
    )
    return plan, records


def expire(services: Services, record: BackupRecord) -> None:
    """Removes one backup: record first marked expired, then the blob, then the name."""
    backups = services.repositories.backups
    if record.status in (BackupStatus.FAILED, BackupStatus.CANCELLED) and not record.blob_name:
        backups.delete_record(record)
        return
    if record.status is not BackupStatus.EXPIRED:
        record = backups.replace(record.model_copy(update={"status": BackupStatus.EXPIRED}))
    if record.blob_name:
        with contextlib.suppress(BlobNotFound):
            services.blobs.delete(record.blob_name)
        backups.replace(record.model_copy(update={"blob_name": None}))


@bp.activity_trigger(input_name="data", activity=APPLY_RETENTION)
def apply_retention(data: dict) -> dict:
    ask = RetentionInput.model_validate(data)
    plan, records = plan_for_database(services(), ask.database_id, ask.now, ask.policy_id)
    result = RetentionResult(database_id=ask.database_id)
    if plan is None:
        return dump_json(result)
    removed = [d.record_id for d in plan.decisions if d.action is not RetentionAction.KEEP]
    if not ask.dry_run:
        for record_id in removed:
            expire(services(), records[record_id])
    decisions = [RetentionDecisionOut(**d.model_dump(mode="json")) for d in plan.decisions]
    kept = len(plan.decisions) - len(removed)
    return dump_json(
        result.model_copy(update={"deleted": removed, "kept": kept, "decisions": decisions})
    )
