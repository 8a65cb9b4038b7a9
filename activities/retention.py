"""`apply_retention`: plan a database's retention (shared.retention) and carry it out.

Deleting is three idempotent steps, so a half-done deletion is finished by the next run:
mark the record expired (keeping its blob name), delete the blob (already gone counts as
deleted), clear the blob name. Failed records past FAILED_RECORD_KEEP_DAYS are removed.
Blobs under a legal hold or an unexpired immutability policy are kept by the plan itself.
Kept backups then move to the access tier of the tiers still keeping them
(shared/protection.py): a daily that is also a monthly goes cool once only the monthly keeps it.
"""

from __future__ import annotations

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
from shared.models import ACCESS_TIER_ORDER, AccessTier, BackupRecord, BackupStatus, Policy
from shared.protection import access_tier_for
from shared.retention import RetentionAction, RetentionDecision, RetentionPlan, plan_retention
from shared.storage.blobs import BlobNotFound, BlobProtected, BlobStoreError


def _policy_of(services: Services, database_id: str) -> str | None:
    repositories = services.repositories
    database = repositories.databases.get(database_id)
    if database is None:
        return None
    server = repositories.servers.get(database.server_id)
    return database.policy_under(server)


def plan_for_database(
    services: Services, database_id: str, now: datetime, policy_id: str | None = None
) -> tuple[RetentionPlan | None, dict[str, BackupRecord], Policy | None]:
    """The plan for one database under its effective policy (None without a policy).
    Also what a retention dry run shows."""
    repositories, settings = services.repositories, services.settings
    if policy_id is None:
        policy_id = _policy_of(services, database_id)
    policy = repositories.policies.get(policy_id) if policy_id else None
    if policy is None:
        return None, {}, None
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
    return plan, records, policy


def expire(services: Services, record: BackupRecord) -> None:
    """Removes one backup: record first marked expired, then the blob, then the name."""
    backups = services.repositories.backups
    if record.status in (BackupStatus.FAILED, BackupStatus.CANCELLED) and not record.blob_name:
        backups.delete_record(record)
        return
    if record.status is not BackupStatus.EXPIRED:
        record = backups.replace(record.model_copy(update={"status": BackupStatus.EXPIRED}))
    if record.blob_name:
        try:
            services.blobs.delete(record.blob_name)
        except BlobNotFound:
            pass
        except BlobProtected:
            _still_protected(services, record)
            return
        backups.replace(record.model_copy(update={"blob_name": None}))


def _still_protected(services: Services, record: BackupRecord) -> None:
    """The storage refused: the blob is held or immutable though the record did not say so
    (set by hand, or the record predates it). The backup is intact: it becomes succeeded
    again with the protection the blob reports, so the next plans keep it."""
    assert record.blob_name is not None
    info = services.blobs.info(record.blob_name)
    update = {
        "status": BackupStatus.SUCCEEDED,
        "immutable_until": info.immutable_until,
        "legal_hold": info.legal_hold,
    }
    services.repositories.backups.replace(record.model_copy(update=update))


@bp.activity_trigger(input_name="data", activity=APPLY_RETENTION)
def apply_retention(data: dict) -> dict:
    ask = RetentionInput.model_validate(data)
    plan, records, policy = plan_for_database(services(), ask.database_id, ask.now, ask.policy_id)
    result = RetentionResult(database_id=ask.database_id)
    if plan is None:
        return dump_json(result)
    removed = [d.record_id for d in plan.decisions if d.action is not RetentionAction.KEEP]
    if not ask.dry_run:
        for record_id in removed:
            expire(services(), records[record_id])
    moves = tier_moves(plan.decisions, records, policy)
    if not ask.dry_run:
        moves = [move for move in moves if move_tier(services(), *move)]
    decisions = [RetentionDecisionOut(**d.model_dump(mode="json")) for d in plan.decisions]
    kept = len(plan.decisions) - len(removed)
    update = {
        "deleted": removed,
        "kept": kept,
        "decisions": decisions,
        "access_tier_moves": [f"{r.id}: {r.access_tier or 'hot'} -> {t}" for r, t in moves],
    }
    return dump_json(result.model_copy(update=update))


def tier_moves(
    decisions: list[RetentionDecision], records: dict[str, BackupRecord], policy: Policy | None
) -> list[tuple[BackupRecord, AccessTier]]:
    """Kept backups whose access tier is not the one their keeping tiers ask for. Archived
    blobs are left where they are (leaving Archive is a rehydration someone asks for). A
    backup under a legal hold is never cooled: whoever holds it may need it read at once."""
    moves = []
    for decision in decisions:
        record = records[decision.record_id]
        if (
            decision.action is not RetentionAction.KEEP
            or record.status is not BackupStatus.SUCCEEDED
        ):
            continue
        current = record.access_tier or AccessTier.HOT
        wanted = access_tier_for(policy, decision.kept_by or record.tiers)
        if record.legal_hold and _colder(wanted, current):
            continue
        if record.blob_name and current is not AccessTier.ARCHIVE and wanted is not current:
            moves.append((record, wanted))
    return moves


def _colder(tier: AccessTier, than: AccessTier) -> bool:
    return ACCESS_TIER_ORDER.index(tier) > ACCESS_TIER_ORDER.index(than)


def move_tier(services: Services, record: BackupRecord, tier: AccessTier) -> bool:
    """Moves one blob; a failure waits for the next run (retention never fails on it)."""
    assert record.blob_name is not None
    try:
        services.blobs.set_access_tier(record.blob_name, tier.value)
    except BlobStoreError:
        return False
    services.repositories.backups.replace(record.model_copy(update={"access_tier": tier}))
    return True
