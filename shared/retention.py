"""Which backups to keep and which to delete, and why: pure, deterministic, explainable.

`plan_retention` gives every record exactly one decision and the rule that made it:

- queued or running records are kept ("kept: queued", "kept: running");
- succeeded backups are kept by any of: being the database's newest successful backup,
  being among the newest `keep_count` succeeded backups tagged with an enabled tier
  ("kept: daily 3 of 7"; several reasons are joined with ", "), or, for manual and
  untiered backups, being younger than `manual_keep_days` ("kept: manual, 12 days old,
  kept 30"), or by a legal hold ("kept: legal hold") or an immutability policy that has not
  expired ("kept: immutable until 2027-01-01 02:00 UTC"): those blobs cannot be deleted,
  so retention never tries. Otherwise deleted with every reason ("deleted: beyond weekly 4",
  "deleted: tier monthly no longer in policy", "deleted: manual older than 30 days");
- failed (and cancelled) records are deleted once older than `failed_keep_days`;
- at most `max_deletes` deletions per run, oldest first; the rest wait
  ("kept: deletion cap reached, next run").

Applying a decision (the activity's job) is idempotent, so a half-done deletion is
finished by the next run:

- DELETE: (1) set the record's status to expired, keeping `blob_name`; (2) delete the
  blob if `blob_name` is set (not found counts as deleted); (3) clear `blob_name`.
- FINISH: an expired record that still names a blob was interrupted after step 1; do
  steps 2 and 3. FINISH does not count against `max_deletes`: the decision was taken.
- An expired record without a blob is history only and is left alone ("kept: expired,
  blob already deleted").

Records are grouped by database: keep counts and the newest-success rail apply per
database. Decisions come newest first (slot time, else started/created/finished time,
then id, both descending).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.models import BackupRecord, BackupStatus, Policy, Tier, Trigger

__all__ = [
    "RetentionAction",
    "RetentionDecision",
    "RetentionPlan",
    "newest_first",
    "plan_retention",
    "record_time",
    "tiers_keeping",
]

_EPOCH = datetime.min.replace(tzinfo=UTC)
_TIER_ORDER = tuple(Tier)
CAP_RULE = "kept: deletion cap reached, next run"


class RetentionAction(StrEnum):
    KEEP = "keep"
    DELETE = "delete"
    FINISH = "finish"


class RetentionDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    action: RetentionAction
    rule: str = Field(min_length=1)
    kept_by: list[Tier] = Field(default_factory=list, description="tiers keeping the backup")


class RetentionPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_id: str
    evaluated_at: datetime
    decisions: list[RetentionDecision]
    deferred: int = Field(default=0, description="deletions postponed by the per-run cap")

    def with_action(self, action: RetentionAction) -> list[RetentionDecision]:
        return [decision for decision in self.decisions if decision.action == action]

    def to_delete(self) -> list[str]:
        return [d.record_id for d in self.with_action(RetentionAction.DELETE)]

    def to_finish(self) -> list[str]:
        return [d.record_id for d in self.with_action(RetentionAction.FINISH)]


# --- public API ------------------------------------------------------------------------------


def plan_retention(
    records: list[BackupRecord],
    policy: Policy,
    now: datetime,
    *,
    manual_keep_days: int = 30,
    failed_keep_days: int = 7,
    max_deletes: int = 50,
) -> RetentionPlan:
    """Decide keep/delete/finish for every record, with the rule that decided it."""
    if min(manual_keep_days, failed_keep_days, max_deletes) < 0:
        raise ValueError("keep days and max_deletes must not be negative")
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    if len({record.id for record in records}) != len(records):
        raise ValueError("record ids must be unique")
    ages = _Ages(now.astimezone(UTC), manual_keep_days, failed_keep_days)
    ordered = newest_first(records)
    by_database: dict[str, list[BackupRecord]] = defaultdict(list)
    for record in ordered:
        by_database[record.database_id].append(record)
    decided: dict[str, RetentionDecision] = {}
    for group in by_database.values():
        decided.update(_decide_database(group, policy, ages))
    decisions = [decided[record.id] for record in ordered]
    capped, deferred = _apply_cap(decisions, max_deletes)
    return RetentionPlan(
        policy_id=policy.id, evaluated_at=ages.now, decisions=capped, deferred=deferred
    )


def record_time(record: BackupRecord) -> datetime:
    """The instant a record stands for: its slot, else when it started or was made."""
    for value in (record.slot_time, record.started_at, record.created_at, record.finished_at):
        if value is not None:
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return _EPOCH


def newest_first(records: Iterable[BackupRecord]) -> list[BackupRecord]:
    """Records in decision order: newest `record_time` first, then id descending."""
    return sorted(records, key=lambda record: (record_time(record), record.id), reverse=True)


# --- one database --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ages:
    now: datetime
    manual_days: int
    failed_days: int

    def age(self, record: BackupRecord) -> timedelta:
        # A clock slightly behind a record's own time must not make it look negative-aged.
        return max(self.now - record_time(record), timedelta(0))


def _decide_database(
    records: list[BackupRecord], policy: Policy, ages: _Ages
) -> dict[str, RetentionDecision]:
    """Decisions for one database's records, given newest first."""
    succeeded = [r for r in records if r.status == BackupStatus.SUCCEEDED]
    positions = tiers_keeping(succeeded, policy)
    newest_id = succeeded[0].id if succeeded else None
    decisions = {}
    for record in records:
        if record.status == BackupStatus.SUCCEEDED:
            kept_by = positions.get(record.id, [])
            protections = [f"{tier.value} {n} of {keep}" for tier, n, keep in kept_by]
            if record.id == newest_id:
                protections.insert(0, "newest successful backup")
            protections += _storage_protections(record, ages)
            decision = _decide_backup(record, policy, protections, ages)
            if kept_by:
                decision = decision.model_copy(update={"kept_by": [t for t, _, _ in kept_by]})
        else:
            decision = _decide_other(record, ages)
        decisions[record.id] = decision
    return decisions


def tiers_keeping(
    succeeded: list[BackupRecord], policy: Policy
) -> dict[str, list[tuple[Tier, int, int]]]:
    """For each kept backup (given newest first), the tiers keeping it, its position and
    the keep count: (daily, 3, 7) reads "daily 3 of 7"."""
    reasons: dict[str, list[tuple[Tier, int, int]]] = defaultdict(list)
    for tier, rule in policy.rules().items():
        tagged = [record for record in succeeded if tier in record.tiers]
        for position, record in enumerate(tagged[: rule.keep_count], start=1):
            reasons[record.id].append((tier, position, rule.keep_count))
    return reasons


def _storage_protections(record: BackupRecord, ages: _Ages) -> list[str]:
    """What Blob Storage itself would refuse to delete: a legal hold, an unexpired policy."""
    found = ["legal hold"] if record.legal_hold else []
    until = record.immutable_until
    if until is not None:
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        if until > ages.now:
            found.append(f"immutable until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return found


def _decide_backup(
    record: BackupRecord, policy: Policy, protections: list[str], ages: _Ages
) -> RetentionDecision:
    manual_rule = _manual_age_rule(record, ages)
    if manual_rule and not manual_rule[0]:
        protections.append(manual_rule[1])
    if protections:
        return _decision(record, RetentionAction.KEEP, "kept: " + ", ".join(protections))
    removals = [_why_tier_lets_go(tier, policy) for tier in _ordered(record.tiers)]
    if manual_rule:
        removals.append(manual_rule[1])
    return _decision(record, RetentionAction.DELETE, "deleted: " + ", ".join(removals))


def _manual_age_rule(record: BackupRecord, ages: _Ages) -> tuple[bool, str] | None:
    """For manual and untiered backups: (too old?, the reason); None for tiered ones."""
    if record.trigger != Trigger.MANUAL and record.tiers:
        return None
    kind = "manual" if record.trigger == Trigger.MANUAL else "untiered"
    age = ages.age(record)
    if age <= timedelta(days=ages.manual_days):
        return False, f"{kind}, {age.days} days old, kept {ages.manual_days}"
    return True, f"{kind} older than {ages.manual_days} days"


def _why_tier_lets_go(tier: Tier, policy: Policy) -> str:
    rule = getattr(policy, tier.value)
    if rule is None:
        return f"tier {tier.value} no longer in policy"
    if not rule.enabled:
        return f"tier {tier.value} disabled in policy"
    return f"beyond {tier.value} {rule.keep_count}"


def _decide_other(record: BackupRecord, ages: _Ages) -> RetentionDecision:
    """Records that are not a successful backup: in flight, failed, cancelled or expired."""
    if record.status in (BackupStatus.QUEUED, BackupStatus.RUNNING):
        return _decision(record, RetentionAction.KEEP, f"kept: {record.status.value}")
    if record.status == BackupStatus.EXPIRED:
        if record.blob_name:
            return _decision(record, RetentionAction.FINISH, "finish: expired, blob to delete")
        return _decision(record, RetentionAction.KEEP, "kept: expired, blob already deleted")
    age, status = ages.age(record), record.status.value  # failed or cancelled
    if age > timedelta(days=ages.failed_days):
        rule = f"deleted: {status} record older than {ages.failed_days} days"
        return _decision(record, RetentionAction.DELETE, rule)
    rule = f"kept: {status}, {age.days} days old, kept {ages.failed_days}"
    return _decision(record, RetentionAction.KEEP, rule)


def _apply_cap(
    decisions: list[RetentionDecision], max_deletes: int
) -> tuple[list[RetentionDecision], int]:
    """Keep the newest surplus deletions for a later run; the oldest go first."""
    deletes = [d for d in decisions if d.action == RetentionAction.DELETE]
    surplus = deletes[: max(0, len(deletes) - max_deletes)]  # newest first: these wait
    if not surplus:
        return decisions, 0
    waiting = {d.record_id for d in surplus}
    capped = [
        RetentionDecision(record_id=d.record_id, action=RetentionAction.KEEP, rule=CAP_RULE)
        if d.record_id in waiting
        else d
        for d in decisions
    ]
    return capped, len(surplus)


def _decision(record: BackupRecord, action: RetentionAction, rule: str) -> RetentionDecision:
    return RetentionDecision(record_id=record.id, action=action, rule=rule)


def _ordered(tiers: Iterable[Tier]) -> list[Tier]:
    present = set(tiers)
    return [tier for tier in _TIER_ORDER if tier in present]
