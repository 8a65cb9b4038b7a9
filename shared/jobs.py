"""The contracts of the durable jobs: names, instance ids, and every input and output model.

Orchestrators, activities and entities are called by the names below, never by function
object, so an orchestrator never imports an I/O module. Models cross the durable boundary
as `model_dump(mode="json")` and are validated again on the other side.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from shared.models import (
    BackupRecord,
    BackupStatus,
    Database,
    DrillRecord,
    Freshness,
    Identifier,
    Model,
    Policy,
    Server,
    Tier,
    Trigger,
)
from shared.storage.codec import as_utc

# --- orchestrators ------------------------------------------------------------------------
POLICY_LOOP = "policy_loop"
BACKUP_DATABASE = "backup_database"
VERIFY_BACKUP = "verify_backup"
RESTORE_BACKUP = "restore_backup"
# Gives a backup whose job ended without recording its result a final record (and counts
# and notifies the failure); started by the watchdog and by a backup that finds the lease
# of a finished job in its way.
SETTLE_BACKUP = "settle_backup"
# One eternal loop per policy with drills; one drill of one database; the cleanup of a drill
# whose job ended without dropping its scratch database (started by the watchdog).
DRILL_LOOP = "drill_loop"
DRILL_DATABASE = "drill_database"
DRILL_CLEANUP = "drill_cleanup"
# Each database's freshness, checked on the watchdog's timer (one instance at a time).
FRESHNESS_CHECK = "freshness_check"
FRESHNESS_CHECK_INSTANCE = "freshness-check"
# The service's own orchestrations, not jobs: lists of running jobs leave them out.
BACKGROUND = frozenset({POLICY_LOOP, DRILL_LOOP, FRESHNESS_CHECK})


# The timer-triggered function that keeps every policy loop alive.
WATCHDOG = "watchdog"
DEFAULT_WATCHDOG_SCHEDULE = "0 */5 * * * *"

# Raised on a policy loop (by the API) when its policy or its databases changed.
POLICY_CHANGED_EVENT = "policy_changed"

# --- entities (names as registered; the runtime lower-cases them) ---------------------------
DATABASE_ENTITY = "database"
SERVER_ENTITY = "server"

# --- activities (verb_noun; none may share a name with an orchestrator) ---------------------
LOAD_POLICY_PLAN = "load_policy_plan"
PREPARE_BACKUP = "prepare_backup"
CHECK_CONNECTION = "check_connection"
DUMP_DATABASE = "dump_database"
FINISH_BACKUP = "finish_backup"
APPLY_RETENTION = "apply_retention"
SEND_NOTIFICATION = "send_notification"
RUN_VERIFY = "run_verify"
RUN_RESTORE = "run_restore"
SETTLE_RECORD = "settle_record"
FIND_FINISHED_HOLDERS = "find_finished_holders"
WAKE_LEASE_WAITER = "wake_lease_waiter"
FIND_RUNNING_CHILDREN = "find_running_children"
LOAD_DRILL_PLAN = "load_drill_plan"
PREPARE_DRILL = "prepare_drill"
RESTORE_SCRATCH = "restore_scratch"
DROP_SCRATCH = "drop_scratch"
FINISH_DRILL = "finish_drill"
CHECK_FRESHNESS = "check_freshness"
NOTIFY_FRESHNESS = "notify_freshness"

ACTIVITY_NAMES = (
    LOAD_POLICY_PLAN,
    PREPARE_BACKUP,
    CHECK_CONNECTION,
    DUMP_DATABASE,
    FINISH_BACKUP,
    APPLY_RETENTION,
    SEND_NOTIFICATION,
    RUN_VERIFY,
    RUN_RESTORE,
    SETTLE_RECORD,
    FIND_FINISHED_HOLDERS,
    WAKE_LEASE_WAITER,
    FIND_RUNNING_CHILDREN,
    LOAD_DRILL_PLAN,
    PREPARE_DRILL,
    RESTORE_SCRATCH,
    DROP_SCRATCH,
    FINISH_DRILL,
    CHECK_FRESHNESS,
    NOTIFY_FRESHNESS,
)
ORCHESTRATOR_NAMES = (
    POLICY_LOOP,
    BACKUP_DATABASE,
    VERIFY_BACKUP,
    RESTORE_BACKUP,
    SETTLE_BACKUP,
    DRILL_LOOP,
    DRILL_DATABASE,
    DRILL_CLEANUP,
    FRESHNESS_CHECK,
)
ENTITY_NAMES = (DATABASE_ENTITY, SERVER_ENTITY)

# Deterministic record ids: the same instance always means the same record.
_RECORD_NAMESPACE = uuid.UUID("6f1d0c8e-2b5a-4f7e-9c3d-8a1b2c3d4e5f")


# --- instance ids ---------------------------------------------------------------------------


def policy_loop_instance_id(policy_id: str) -> str:
    """The one eternal loop of a policy."""
    return f"policy-{policy_id}"


def backup_instance_id(database_id: str, slot_time: datetime) -> str:
    """One scheduled backup per database and slot: starting it twice is a no-op."""
    return f"backup-{database_id}-{as_utc(slot_time):%Y%m%dT%H%MZ}"


def manual_backup_instance_id(database_id: str, unique: str) -> str:
    """An on-demand backup; `unique` is chosen by the caller (e.g. a uuid hex)."""
    return f"manual-{database_id}-{unique}"


def verify_instance_id(database_id: str, backup_id: str, unique: str) -> str:
    return f"verify-{database_id}-{backup_id}-{unique}"


def restore_instance_id(database_id: str, backup_id: str, unique: str) -> str:
    return f"restore-{database_id}-{backup_id}-{unique}"


def settle_instance_id(backup_instance_id: str) -> str:
    """At most one settlement per backup job."""
    return f"settle-{backup_instance_id}"


def backup_record_id(instance_id: str) -> str:
    """The record a backup orchestration writes: derived from its instance id, so a replay,
    a retried activity or a restarted instance all address the same record."""
    return str(uuid.uuid5(_RECORD_NAMESPACE, instance_id))


def drill_loop_instance_id(policy_id: str) -> str:
    """The one eternal drill loop of a policy."""
    return f"drills-{policy_id}"


def drill_instance_id(database_id: str, slot_time: datetime) -> str:
    """One scheduled drill per database and drill slot: starting it twice is a no-op."""
    return f"drill-{database_id}-{as_utc(slot_time):%Y%m%dT%H%MZ}"


def manual_drill_instance_id(database_id: str, unique: str) -> str:
    return f"drill-{database_id}-manual-{unique}"


def drill_cleanup_instance_id(drill_instance_id: str) -> str:
    """At most one cleanup per drill job."""
    return f"cleanup-{drill_instance_id}"


def drill_record_id(instance_id: str) -> str:
    """The record a drill orchestration writes, derived from its instance id (its scratch
    database's name is derived from this in turn)."""
    return backup_record_id(instance_id)


# --- policy loop ----------------------------------------------------------------------------


class PolicyLoopInput(Model):
    """The state one generation of a policy loop hands to the next (continue_as_new)."""

    policy_id: Identifier
    # The latest slot handled; None on the very first start (nothing is caught up then).
    last_slot: datetime | None = None


class PolicyPlan(Model):
    """What the loop needs to know about its policy, loaded by an activity."""

    policy: Policy | None = None
    # Enabled databases whose effective policy (own override, else the server's) is this one.
    database_ids: list[Identifier] = Field(default_factory=list)


class PolicyLoopOutput(Model):
    """Returned only when the loop stops (policy gone or nothing left to back up)."""

    policy_id: Identifier
    stopped_because: str


# --- backup ---------------------------------------------------------------------------------


class BackupJob(Model):
    """Input of `backup_database`: one database, one slot (or a manual run)."""

    database_id: Identifier
    trigger: Trigger = Trigger.SCHEDULE
    slot_time: datetime | None = None
    tiers: list[Tier] = Field(default_factory=list)


class PrepareBackupInput(Model):
    job: BackupJob
    record_id: Identifier
    # The backup job's instance id, kept on the record: whoever finds the record unfinished
    # can ask whether its job still runs.
    instance_id: str = Field(min_length=1, max_length=256)
    now: datetime


class BackupTarget(Model):
    """The database, its server and the record as prepare_backup left them, handed to the
    next activities so they need not read them again (catalog rows hold no secret)."""

    server: Server
    database: Database
    record: BackupRecord


class PreparedBackup(Model):
    """The record exists (queued) and the tuning the orchestration must use is fixed."""

    record_id: Identifier
    server_id: Identifier
    target: BackupTarget | None = None
    # The database's effective policy (retention applies it).
    policy_id: Identifier | None = None
    # True when this record already finished (a re-run of a completed slot): nothing to do.
    already_done: bool = False
    status: BackupStatus = BackupStatus.QUEUED
    server_limit: int = Field(ge=1)
    lease_seconds: int = Field(ge=60)
    dump_max_attempts: int = Field(ge=1)
    dump_retry_seconds: int = Field(ge=1)


class CheckConnectionInput(Model):
    target: BackupTarget


class ConnectionCheck(Model):
    ok: bool
    server_version: str | None = None
    error: str | None = None


class DumpInput(Model):
    target: BackupTarget


class DumpResult(Model):
    record_id: Identifier
    blob_name: str
    raw_bytes: int = Field(ge=0)
    stored_bytes: int = Field(ge=0)
    sha256: str


class DumpOutcome(Model):
    """What `dump_database` returns: the committed dump, or a failure that another attempt
    would not cure (permission or schema errors, a cancelled backup). Failures worth another
    attempt are raised instead, so the orchestration's retry policy retries them."""

    result: DumpResult | None = None
    error: str | None = None


class FinishBackupInput(Model):
    database_id: Identifier
    record_id: Identifier
    succeeded: bool
    dump: DumpResult | None = None
    error: str | None = None


class FinishedBackup(Model):
    record_id: Identifier
    status: BackupStatus
    error: str | None = None


class SettleJob(Model):
    """Input of `settle_backup`: a record left unfinished by a job that no longer runs."""

    database_id: Identifier
    record_id: Identifier
    # The job that left it; its leases are released. None for a record that names none.
    holder: str | None = None
    reason: str = Field(min_length=1, max_length=500)


class SettledRecord(Model):
    """The record after `settle_record`; `changed` when this settlement finished it."""

    record_id: Identifier
    server_id: Identifier | None = None
    status: BackupStatus | None = None
    error: str | None = None
    tiers: list[Tier] = Field(default_factory=list)
    changed: bool = False


class HolderCheck(Model):
    """Input of `find_finished_holders`: lease holders a waiting job found in its way."""

    holders: list[str] = Field(default_factory=list, max_length=64)


class ChildCheck(Model):
    """Input of `find_running_children`: the instance ids a loop is about to start."""

    # One per database of the slot (a catch-up: per database and tier slot). No cap: the
    # loop builds this itself, and a cap would fail the loop of a large policy.
    instance_ids: list[str] = Field(default_factory=list)


# What a loop records for a child it did not start because the previous one of that id runs.
SKIPPED_STILL_RUNNING = "skipped: previous still running"


class RetentionInput(Model):
    database_id: Identifier
    now: datetime
    dry_run: bool = False
    # When known, the database's effective policy (saves looking it up again).
    policy_id: Identifier | None = None


class RetentionDecisionOut(Model):
    record_id: str
    action: str
    rule: str
    kept_by: list[Tier] = Field(default_factory=list)


class RetentionResult(Model):
    database_id: Identifier
    deleted: list[str] = Field(default_factory=list)
    kept: int = 0
    decisions: list[RetentionDecisionOut] = Field(default_factory=list)
    # "<record>: hot -> cool": kept backups moved to the access tier of the tiers keeping them.
    access_tier_moves: list[str] = Field(default_factory=list)


class NotificationEvent(StrEnum):
    BACKUP_FAILED = "backup_failed"
    BACKUP_RECOVERED = "backup_recovered"
    DRILL_FAILED = "drill_failed"
    DATABASE_STALE = "database_stale"
    DATABASE_FRESH = "database_fresh"
    POLICY_LOOP_RESTARTED = "policy_loop_restarted"


class Notification(Model):
    """The JSON body posted to NOTIFY_WEBHOOK_URL. `record_id` names the backup record
    (backup events) or the drill record (drill_failed); `error` says what failed, or why a
    database is stale."""

    event: NotificationEvent
    database_id: Identifier | None = None
    record_id: Identifier | None = None
    policy_id: Identifier | None = None
    consecutive_failures: int = Field(default=0, ge=0)
    error: str | None = None
    at: datetime


class BackupOutput(Model):
    """Output of `backup_database`."""

    database_id: Identifier
    record_id: Identifier
    status: BackupStatus
    trigger: Trigger
    slot_time: datetime | None = None
    tiers: list[Tier] = Field(default_factory=list)
    blob_name: str | None = None
    stored_bytes: int | None = None
    error: str | None = None
    retention_deleted: list[str] = Field(default_factory=list)


# --- verify and restore ---------------------------------------------------------------------


class VerifyJob(Model):
    database_id: Identifier
    backup_id: Identifier
    # Set by the orchestration for its activity's log lines.
    instance_id: str | None = None


class VerifyOutput(Model):
    database_id: Identifier
    backup_id: Identifier
    ok: bool
    sha256_ok: bool | None = None
    marker_ok: bool | None = None
    raw_bytes: int | None = None
    error: str | None = None


class RestoreJob(Model):
    database_id: Identifier
    backup_id: Identifier
    target_database: str = Field(min_length=1, max_length=128)
    target_server_id: Identifier | None = None
    allow_non_empty: bool = False
    # Set by the orchestration for its activity's log lines.
    instance_id: str | None = None


class TableDifferenceOut(Model):
    """One table whose rows after the restore differ from the manifest (None: absent)."""

    table: str
    expected_rows: int | None = None
    actual_rows: int | None = None


class RestoreOutput(Model):
    database_id: Identifier
    backup_id: Identifier
    target_server_id: Identifier
    target_database: str
    ok: bool
    differences: list[str] = Field(default_factory=list)
    # The same differences, structured (the console draws them as a table).
    table_differences: list[TableDifferenceOut] = Field(default_factory=list)
    tables_compared: int = 0
    # "not_compared" when the backup's record has no manifest (rebuilt from its blob's
    # metadata): the restore worked, but nothing says its tables are the ones dumped.
    comparison: Literal["matches", "differs", "not_compared"] | None = None
    comparison_note: str | None = None
    error: str | None = None


# --- restore drills ---------------------------------------------------------------------


class DrillLoopInput(Model):
    """The state one generation of a drill loop hands to the next (continue_as_new)."""

    policy_id: Identifier
    # The latest drill slot handled; None on the very first start (nothing is caught up).
    last_slot: datetime | None = None


class DrillPlan(Model):
    """What the drill loop needs: the policy, its enabled databases, and when each was last
    drilled (the rotation of a sample picks the least recently drilled)."""

    policy: Policy | None = None
    database_ids: list[Identifier] = Field(default_factory=list)
    last_drilled: dict[str, datetime | None] = Field(default_factory=dict)


class DrillJob(Model):
    """Input of `drill_database`: one database, one drill slot (or an on-demand drill, which
    may name the backup to drill; by default the newest successful one)."""

    database_id: Identifier
    trigger: Trigger = Trigger.SCHEDULE
    slot_time: datetime | None = None
    backup_id: Identifier | None = None


class PrepareDrillInput(Model):
    job: DrillJob
    drill_id: Identifier
    instance_id: str = Field(min_length=1, max_length=256)
    now: datetime


class PreparedDrill(Model):
    """The drill record as prepared: queued with its backup, target and scratch name, or
    final already (skipped, or a re-run of a drill that ended)."""

    record: DrillRecord
    finished: bool = False
    server_limit: int = Field(default=1, ge=1)
    lease_seconds: int = Field(default=3600, ge=60)


class ScratchRestored(Model):
    """What `restore_scratch` measured; `error` when the restore or the comparison failed."""

    ok: bool
    restore_seconds: float | None = None
    raw_bytes: int | None = None
    stored_bytes: int | None = None
    tables_compared: int = 0
    compared: bool = True  # False: the backup's record has no manifest to compare with
    differences: list[str] = Field(default_factory=list)
    error: str | None = None


class FinishDrillInput(Model):
    record: DrillRecord
    restored: ScratchRestored


class FinishedDrill(Model):
    """The drill record as stored; `changed` when this call finished it."""

    record: DrillRecord
    changed: bool = False


class DrillCleanup(Model):
    """Input of `drill_cleanup`: a drill left unfinished, or with its scratch database not
    dropped, by a job that no longer runs."""

    record: DrillRecord
    # The job that left it; its leases are released. None when it named none.
    holder: str | None = None
    reason: str = Field(min_length=1, max_length=500)


# --- freshness -----------------------------------------------------------------------------


class FreshnessCheckInput(Model):
    """Input of `freshness_check`: the policies whose backup loop the watchdog just restarted
    (their stale databases say so)."""

    restarted: list[Identifier] = Field(default_factory=list)


class CheckFreshnessInput(Model):
    now: datetime
    restarted: list[Identifier] = Field(default_factory=list)


class FreshnessChange(Model):
    """A change of a database's freshness stored and not notified yet."""

    state: Freshness
    policy_id: Identifier | None = None


class FreshnessChanges(Model):
    changes: list[FreshnessChange] = Field(default_factory=list)


# --- what a job came to ----------------------------------------------------------------------

# Runtime statuses of a job that has not ended.
RUNNING_STATUSES = frozenset({"Running", "Pending", "Suspended", "ContinuedAsNew"})


class JobResult(StrEnum):
    """One word a script can test: a failed backup is `Completed` for the runtime too."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def job_result(runtime_status: str | None, output: Any) -> JobResult:
    """What the job came to, from its runtime status and its output: a backup's output says
    its record's status, a verify's or a restore's says `ok`."""
    if runtime_status is None or runtime_status in RUNNING_STATUSES:
        return JobResult.RUNNING
    if runtime_status in ("Terminated", "Canceled"):
        return JobResult.CANCELLED
    if runtime_status != "Completed":
        return JobResult.FAILED
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except ValueError:
            return JobResult.SUCCEEDED
    if not isinstance(output, dict):
        return JobResult.SUCCEEDED
    if "status" in output:
        status = output["status"]
        if status == BackupStatus.CANCELLED:
            return JobResult.CANCELLED
        return JobResult.SUCCEEDED if status == BackupStatus.SUCCEEDED else JobResult.FAILED
    if "ok" in output:
        return JobResult.SUCCEEDED if output["ok"] is True else JobResult.FAILED
    return JobResult.SUCCEEDED


def dump_json(model: Model) -> dict[str, Any]:
    """How models cross the durable boundary."""
    return model.model_dump(mode="json")
