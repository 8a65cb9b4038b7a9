"""What the console draws, computed from backup records: each database's protection, the
slots of its policy and what became of them, and the storage held over time.

Pure functions over records already read (no I/O), so they are tested without storage.
Times are aware UTC throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field

from shared.models import (
    BackupRecord,
    BackupStatus,
    Database,
    DrillRecord,
    Freshness,
    FreshnessState,
    HourlyRule,
    Model,
    Policy,
    Tier,
)
from shared.schedule import next_slot, slots_between

GRACE = timedelta(hours=1)
TIER_PERIOD = {
    Tier.DAILY: timedelta(days=1),
    Tier.WEEKLY: timedelta(days=7),
    Tier.MONTHLY: timedelta(days=31),
    Tier.YEARLY: timedelta(days=366),
}
# A slot with no record yet is "due" for this long before it counts as missed (the loop
# may still be starting it, or it waits for a lock).
DUE_FOR = timedelta(minutes=15)
# Longest kept first: a backup serving several tiers is counted under the first one.
TIERS_LONGEST_FIRST = (Tier.YEARLY, Tier.MONTHLY, Tier.WEEKLY, Tier.DAILY, Tier.HOURLY)
MANUAL = "manual"
MAX_CELLS = 500
_FOREVER = datetime.max.replace(tzinfo=UTC)

CellStatus = Literal[
    "succeeded",
    "failed",
    "cancelled",
    "running",
    "queued",
    "expired",
    "missed",
    "due",
    "upcoming",
    "disabled",
]


def allowed_age(policy: Policy, grace: timedelta = GRACE) -> timedelta | None:
    """How old the newest successful backup may be under this policy (None: no schedule):
    its recovery point objective, the most frequent tier's interval plus `grace`."""
    periods = [
        timedelta(hours=rule.every_hours) if isinstance(rule, HourlyRule) else TIER_PERIOD[tier]
        for tier, rule in policy.rules().items()
    ]
    return min(periods) + grace if periods else None


def finished_at(record: BackupRecord) -> datetime | None:
    return record.finished_at or record.updated_at or record.created_at


def holds_blob(record: BackupRecord) -> bool:
    return record.status is BackupStatus.SUCCEEDED and bool(record.blob_name)


def tier_of(record: BackupRecord) -> str:
    """The tier a backup's bytes are counted under: its longest-kept tier, or manual."""
    for tier in TIERS_LONGEST_FIRST:
        if tier in record.tiers:
            return tier.value
    return MANUAL


# --- one database's protection ------------------------------------------------------------


class OutcomeCounts(Model):
    succeeded: int = 0
    failed: int = 0


class NextSlot(Model):
    at: datetime
    tiers: list[str]


class LastDrill(Model):
    """A database's latest restore drill, for the overview and the status summary."""

    drill_id: str
    status: str
    at: datetime | None = Field(default=None, description="when it finished (or began)")
    age_hours: float | None = None
    backup_id: str | None = None
    restore_seconds: float | None = Field(default=None, description="the achieved RTO")
    bytes_per_second: float | None = None
    error: str | None = None


def last_drill(record: DrillRecord | None, now: datetime) -> LastDrill | None:
    if record is None:
        return None
    at = record.finished_at or record.created_at
    return LastDrill(
        drill_id=record.id, status=record.status.value, at=at,
        age_hours=(now - at).total_seconds() / 3600 if at else None,
        backup_id=record.backup_id, restore_seconds=record.restore_seconds,
        bytes_per_second=record.bytes_per_second, error=record.error,
    )  # fmt: skip


class DatabaseHealth(Model):
    database_id: str
    name: str
    display_name: str | None = None
    server_id: str
    enabled: bool
    policy_id: str | None = None
    last_success_at: datetime | None = None
    last_status: str | None = Field(default=None, description="of the newest record")
    last_error: str | None = Field(default=None, description="when the newest record failed")
    age_hours: float | None = Field(default=None, description="since the last success")
    allowed_hours: float | None = None
    stale: bool = False
    next_slot: NextSlot | None = None
    last_24h: OutcomeCounts = Field(default_factory=OutcomeCounts)
    last_7d: OutcomeCounts = Field(default_factory=OutcomeCounts)
    backups: int = 0
    stored_bytes: int = 0
    freshness: FreshnessState | None = Field(
        default=None, description="as the watchdog last found it (null: not checked yet)"
    )
    stale_since: datetime | None = None
    stale_reason: str | None = None
    last_drill: LastDrill | None = None


def database_health(
    database: Database,
    policy: Policy | None,
    records: Sequence[BackupRecord],
    now: datetime,
    grace: timedelta = GRACE,
) -> DatabaseHealth:
    """`records` newest first, as the repository returns them."""
    health = DatabaseHealth(
        database_id=database.id, name=database.name, display_name=database.display_name,
        server_id=database.server_id, enabled=database.enabled,
        policy_id=policy.id if policy else None,
    )  # fmt: skip
    if records:
        health.last_status = records[0].status.value
        if records[0].status is BackupStatus.FAILED:
            health.last_error = records[0].error
    for record in records:
        _count(health, record, now)
    allowed = allowed_age(policy, grace) if policy and database.enabled else None
    if allowed is not None:
        health.allowed_hours = allowed.total_seconds() / 3600
        since = health.last_success_at or database.created_at
        health.stale = since is not None and now - since > allowed
    if health.last_success_at is not None:
        health.age_hours = (now - health.last_success_at).total_seconds() / 3600
    slot = next_slot(policy, now) if policy and database.enabled else None
    if slot is not None:
        health.next_slot = NextSlot(at=slot.at, tiers=[tier.value for tier in slot.tier_list()])
    return health


def _count(health: DatabaseHealth, record: BackupRecord, now: datetime) -> None:
    if holds_blob(record):
        health.backups += 1
        health.stored_bytes += record.stored_bytes or 0
    if record.status is BackupStatus.SUCCEEDED and health.last_success_at is None:
        health.last_success_at = finished_at(record)
    if record.status not in (BackupStatus.SUCCEEDED, BackupStatus.FAILED):
        return
    finished = finished_at(record)
    for window, counts in (
        (timedelta(days=1), health.last_24h),
        (timedelta(days=7), health.last_7d),
    ):
        if finished and finished >= now - window:
            if record.status is BackupStatus.SUCCEEDED:
                counts.succeeded += 1
            else:
                counts.failed += 1


def with_watch(
    health: DatabaseHealth, freshness: Freshness | None, drill: LastDrill | None
) -> DatabaseHealth:
    """The row with what the watchdog found (freshness) and the latest restore drill."""
    stale = freshness is not None and freshness.state is FreshnessState.STALE
    return health.model_copy(
        update={
            "freshness": freshness.state if freshness else None,
            "stale_since": freshness.since if stale and freshness else None,
            "stale_reason": freshness.reason if stale and freshness else None,
            "last_drill": drill,
        }
    )


def stale_first(rows: Iterable[DatabaseHealth]) -> list[DatabaseHealth]:
    """Stale databases first, then the oldest last success, then never backed up, by name."""

    def key(row: DatabaseHealth) -> tuple[int, float, str]:
        age = row.age_hours if row.age_hours is not None else float("inf")
        return (0 if row.stale else 1, -age, row.name)

    return sorted(rows, key=key)


# --- storage ---------------------------------------------------------------------------------


class TierUsage(Model):
    tier: str
    backups: int = 0
    stored_bytes: int = 0


def storage_by_tier(records: Iterable[BackupRecord]) -> list[TierUsage]:
    usage = {name: TierUsage(tier=name) for name in [t.value for t in TIERS_LONGEST_FIRST]}
    usage[MANUAL] = TierUsage(tier=MANUAL)
    for record in records:
        if holds_blob(record):
            entry = usage[tier_of(record)]
            entry.backups += 1
            entry.stored_bytes += record.stored_bytes or 0
    return [entry for entry in usage.values() if entry.backups]


class StoragePoint(Model):
    at: datetime
    stored_bytes: int
    backups: int


def storage_over_time(
    records: Iterable[BackupRecord], now: datetime, days: int = 30
) -> list[StoragePoint]:
    """Bytes held at the end of each of the last `days` days (the last point is now).

    A backup is held from when it finished until retention expired it (an expired record's
    updated_at). Records deleted outright (with their database, or one by one) leave no
    trace, so the past can only be lower than it really was, never higher."""
    spans: list[tuple[datetime, datetime | None, int]] = []
    for record in records:
        start = finished_at(record)
        if start is None or not record.stored_bytes:
            continue
        if holds_blob(record):
            spans.append((start, None, record.stored_bytes))
        elif record.status is BackupStatus.EXPIRED:
            spans.append((start, record.updated_at or start, record.stored_bytes))
    day_end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    moments = [day_end - timedelta(days=back) for back in range(days - 1, 0, -1)] + [now]
    points = []
    for moment in moments:
        held = [
            size for start, end, size in spans if start <= moment and (end is None or end > moment)
        ]
        points.append(StoragePoint(at=moment, stored_bytes=sum(held), backups=len(held)))
    return points


# --- the calendar of one database --------------------------------------------------------------


class CalendarCell(Model):
    at: datetime
    tiers: list[str] = Field(default_factory=list, description="empty for a manual backup")
    status: CellStatus
    backup_id: str | None = None
    error: str | None = None


def calendar(
    database: Database,
    policy: Policy | None,
    records: Iterable[BackupRecord],
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[list[CalendarCell], list[CalendarCell]]:
    """(slots, manual backups) in (start, end]: one cell per slot of the database's current
    policy with what became of it, and one per manual backup. Slots are those of today's
    policy: a policy changed meanwhile shows its old slots as they are now defined."""
    scheduled: dict[datetime, BackupRecord] = {}
    manual: list[CalendarCell] = []
    for record in records:
        if record.slot_time is not None:
            scheduled.setdefault(record.slot_time, record)
        elif record.created_at and start < record.created_at <= end:
            manual.append(_cell(record.created_at, [], record))
    cells: list[CalendarCell] = []
    # Empty slots before the database existed are not shown: start past them (but not past
    # a recorded slot) rather than walk through them all.
    if database.created_at is not None:
        first = min([database.created_at, *scheduled])
        start = max(start, first - timedelta(microseconds=1))
    for slot in slots_between(policy, start, end) if policy else []:
        if len(cells) >= MAX_CELLS:
            break
        tiers = [tier.value for tier in slot.tier_list()]
        record = scheduled.get(slot.at)
        if record is not None:
            cells.append(_cell(slot.at, tiers, record))
        elif database.created_at is None or slot.at >= database.created_at:
            cells.append(
                CalendarCell(at=slot.at, tiers=tiers, status=_empty(database, slot.at, now))
            )
    return cells, sorted(manual, key=lambda cell: cell.at)


def _cell(at: datetime, tiers: list[str], record: BackupRecord) -> CalendarCell:
    failed = record.status is BackupStatus.FAILED
    return CalendarCell(
        at=at, tiers=tiers, status=record.status.value, backup_id=record.id,
        error=record.error if failed else None,
    )  # fmt: skip


def _empty(database: Database, at: datetime, now: datetime) -> CellStatus:
    if at > now:
        return "upcoming" if database.enabled else "disabled"
    if not database.enabled:
        return "disabled"
    return "due" if now - at < DUE_FOR else "missed"
