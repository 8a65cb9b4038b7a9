"""Building backup records and applying a retention plan the way the activity does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from shared.models import BackupRecord, BackupStatus, Tier, Trigger
from shared.retention import RetentionAction, RetentionPlan

NOW = datetime(2027, 6, 15, 12, tzinfo=UTC)


def record(
    record_id: str,
    at: datetime,
    tiers: Iterable[Tier] = (),
    *,
    status: BackupStatus = BackupStatus.SUCCEEDED,
    trigger: Trigger = Trigger.SCHEDULE,
    database_id: str = "db-one",
) -> BackupRecord:
    scheduled = trigger == Trigger.SCHEDULE
    has_blob = status in (BackupStatus.SUCCEEDED, BackupStatus.EXPIRED)
    return BackupRecord(
        id=record_id,
        database_id=database_id,
        server_id="server-one",
        status=status,
        tiers=list(tiers),
        trigger=trigger,
        slot_time=at if scheduled else None,
        started_at=at,
        blob_name=f"{database_id}/{record_id}.zst" if has_blob else None,
    )


def apply_plan(
    records: list[BackupRecord], plan: RetentionPlan, *, interrupted: Iterable[str] = ()
) -> list[BackupRecord]:
    """Carry out a plan: delete = mark expired, delete the blob, clear blob_name.

    Records in `interrupted` stop after marking expired, as if the activity crashed.
    """
    stopped = set(interrupted)
    actions = {decision.record_id: decision.action for decision in plan.decisions}
    applied = []
    for item in records:
        action = actions[item.id]
        if action == RetentionAction.DELETE:
            blob = item.blob_name if item.id in stopped else None
            item = item.model_copy(update={"status": BackupStatus.EXPIRED, "blob_name": blob})
        elif action == RetentionAction.FINISH:
            item = item.model_copy(update={"blob_name": None})
        applied.append(item)
    return applied


def live(records: Iterable[BackupRecord]) -> list[BackupRecord]:
    return [r for r in records if r.status != BackupStatus.EXPIRED]
