"""The activities of a restore drill: load a policy's drill plan, prepare the drill record,
restore the backup into the scratch database and compare it with its manifest, drop the
scratch database, finish the record.

Each may run more than once and does only what is still missing: the drill record's id and
its scratch database's name come from the drill's instance id, a restore starts by dropping
whatever an earlier attempt left in its scratch database, dropping is `IF EXISTS`, and a
final record is never written again (`update_unless_final`). A bad backup is an outcome,
never an exception: retrying would not change the answer.
"""

from __future__ import annotations

import logging
from typing import Any

from activities import bp
from activities.backup_records import MissingConfiguration, clean_error, load, wall_clock
from activities.policy_plan import plan_for
from activities.verify_restore import (
    RESTORE_FAILURES,
    described_differences,
    restore_into,
    target_spec,
)
from activities.wiring import Services, services
from shared import telemetry
from shared.drills import bytes_per_second, scratch_name
from shared.engines.registry import engine_for
from shared.job_context import job_context
from shared.jobs import (
    DROP_SCRATCH,
    FINISH_DRILL,
    LOAD_DRILL_PLAN,
    PREPARE_DRILL,
    RESTORE_SCRATCH,
    DrillPlan,
    FinishDrillInput,
    FinishedDrill,
    PreparedDrill,
    PrepareDrillInput,
    RestoreJob,
    ScratchRestored,
    dump_json,
)
from shared.models import (
    FINAL_DRILL_STATUSES,
    BackupRecord,
    BackupStatus,
    Database,
    DrillRecord,
    DrillStatus,
    Engine,
    Server,
    engine_family,
)
from shared.storage.blobs import BlobNotFound
from shared.storage.tables import AlreadyExists

log = logging.getLogger(__name__)


class DrillSkipped(Exception):
    """Nothing this drill could prove; the message says why (it is stored and shown)."""


@bp.activity_trigger(input_name="policy_id", activity=LOAD_DRILL_PLAN)
def load_drill_plan(policy_id: str) -> dict:
    repositories = services().repositories
    plan = plan_for(repositories, policy_id)
    sampled = plan.policy is not None and plan.policy.drill and plan.policy.drill.sample_size
    last_drilled: dict[str, Any] = {}
    for database_id in plan.database_ids if sampled else []:
        newest = repositories.drills.newest(database_id)
        last_drilled[database_id] = newest.created_at if newest else None
    drill_plan = DrillPlan(
        policy=plan.policy, database_ids=plan.database_ids, last_drilled=last_drilled
    )
    return dump_json(drill_plan)


@bp.activity_trigger(input_name="data", activity=PREPARE_DRILL)
def prepare_drill(data: dict) -> dict:
    """Creates the drill record (or finds it): queued with the backup to restore, the target
    server and the scratch database's name, or skipped with the reason."""
    ask = PrepareDrillInput.model_validate(data)
    drills = services().repositories.drills
    record = drills.get(ask.job.database_id, ask.drill_id)
    if record is None:
        try:
            record = drills.create(_new_record(services(), ask))
        except AlreadyExists:  # an earlier attempt created it after all
            record = drills.get(ask.job.database_id, ask.drill_id)
            assert record is not None
        else:
            if record.status is DrillStatus.SKIPPED:
                record_drill_telemetry(record)
    return dump_json(_prepared(services(), record))


def _new_record(found: Services, ask: PrepareDrillInput) -> DrillRecord:
    job = ask.job
    database, server = load(found, job.database_id)
    record = DrillRecord(
        id=ask.drill_id, database_id=database.id, server_id=server.id, trigger=job.trigger,
        slot_time=job.slot_time, created_at=ask.now, instance_id=ask.instance_id,
    )  # fmt: skip
    try:
        backup = _backup_to_drill(found, database, job.backup_id)
        target = _drill_target(found, database, server)
        _check_readable(found, backup)
    except DrillSkipped as exc:
        skipped = {"status": DrillStatus.SKIPPED, "error": str(exc), "scratch_dropped": True}
        return record.model_copy(update={**skipped, "finished_at": wall_clock()})
    return record.model_copy(
        update={
            "backup_id": backup.id,
            "backup_taken_at": backup.finished_at or backup.created_at,
            "target_server_id": target.id,
            "scratch_database": scratch_name(database.id, ask.drill_id),
        }
    )


def _backup_to_drill(found: Services, database: Database, backup_id: str | None) -> BackupRecord:
    """The named backup, else the database's newest successful one."""
    backups = found.repositories.backups
    if backup_id is None:
        newest = backups.list_by_database(database.id, 1, status=BackupStatus.SUCCEEDED).items
        if not newest:
            raise DrillSkipped("the database has no successful backup to drill")
        return newest[0]
    record = backups.get(database.id, backup_id)
    if record is None:
        raise DrillSkipped(f"backup {backup_id} does not exist")
    if record.status is not BackupStatus.SUCCEEDED or not record.blob_name:
        raise DrillSkipped(f"backup {backup_id} is {record.status.value}, not restorable")
    return record


def _drill_target(found: Services, database: Database, server: Server) -> Server:
    """The policy's drill server, else the database's own server."""
    if server.engine is Engine.SQLSERVER:
        raise DrillSkipped("SQL Server drills are not supported yet (its restores are not)")
    policy_id = database.policy_under(server)
    policy = found.repositories.policies.get(policy_id) if policy_id else None
    drill_server_id = policy.drill.server_id if policy and policy.drill else None
    if drill_server_id is None or drill_server_id == server.id:
        return server
    target = found.repositories.servers.get(drill_server_id)
    if target is None:
        raise DrillSkipped(f"the drill server {drill_server_id} does not exist")
    if engine_family(target.engine) != engine_family(server.engine):
        raise DrillSkipped(
            f"the drill server {target.id} runs {target.engine.value}; "
            f"this database runs {server.engine.value}"
        )
    return target


def _check_readable(found: Services, backup: BackupRecord) -> None:
    """An archived blob cannot be read before it is rehydrated (hours): skipped, not failed.
    A missing blob is left to the restore, which fails: the backup is gone."""
    assert backup.blob_name is not None
    try:
        info = found.blobs.info(backup.blob_name)
    except BlobNotFound:
        return
    if info.archived:
        raise DrillSkipped(
            f"backup {backup.id} is in the Archive tier: rehydrate it to drill it "
            f"(POST /api/backups/{backup.database_id}/{backup.id}/rehydrate)"
        )


def _prepared(found: Services, record: DrillRecord) -> PreparedDrill:
    settings = found.settings
    finished = record.status in FINAL_DRILL_STATUSES
    target = None if finished else found.repositories.servers.get(record.target_server_id or "")
    limit = target.max_concurrent_backups if target else None
    return PreparedDrill(
        record=record,
        finished=finished,
        server_limit=limit or settings.server_max_concurrent_backups,
        lease_seconds=settings.backup_lease_seconds,
    )


def _scratch_job(record: DrillRecord) -> RestoreJob:
    assert record.backup_id and record.scratch_database and record.target_server_id
    return RestoreJob(
        database_id=record.database_id,
        backup_id=record.backup_id,
        target_database=record.scratch_database,
        target_server_id=record.target_server_id,
    )


def _context(record: DrillRecord) -> Any:
    """Log lines about the drill carry its job, record, database and target server."""
    return job_context(
        instance_id=record.instance_id, record_id=record.id,
        database=record.database_id, server=record.target_server_id,
    )  # fmt: skip


@bp.activity_trigger(input_name="data", activity=RESTORE_SCRATCH)
def restore_scratch(data: dict) -> dict:
    """Restores the drill's backup into its (re)created scratch database and compares the
    tables with the manifest; the outcome says what went wrong, never raises for it."""
    record = DrillRecord.model_validate(data)
    with _context(record):
        restored = _restore_scratch(record)
    if restored.ok:
        log.info("drill %s restored in %.2f s", record.id, restored.restore_seconds or 0)
    else:
        log.warning("drill %s failed: %s", record.id, restored.error)
    return dump_json(restored)


def _restore_scratch(record: DrillRecord) -> ScratchRestored:
    drills = services().repositories.drills

    def running(stored: DrillRecord) -> dict[str, Any]:
        return {"status": DrillStatus.RUNNING, "started_at": stored.started_at or wall_clock()}

    record, started = drills.update_unless_final(record, running)
    if not started:
        return ScratchRestored(ok=False, error=f"the drill is {record.status.value}")
    try:
        _drop(services(), record)  # what an earlier attempt may have left
        _, outcome = restore_into(services(), _scratch_job(record))
    except RESTORE_FAILURES as exc:
        return ScratchRestored(ok=False, error=clean_error(str(exc)))
    differences = described_differences(outcome)
    return ScratchRestored(
        ok=not differences,
        restore_seconds=outcome.duration_seconds,
        raw_bytes=outcome.raw_bytes,
        stored_bytes=outcome.stored_bytes,
        tables_compared=outcome.tables_compared,
        compared=outcome.compared,
        differences=differences,
        error=f"{len(differences)} tables differ from the manifest" if differences else None,
    )


def _drop(found: Services, record: DrillRecord) -> None:
    """Drops the drill's scratch database if it exists."""
    job = _scratch_job(record)
    server = found.repositories.servers.get(record.server_id)
    database = found.repositories.databases.get(record.database_id)
    if database is None or server is None:  # gone since: the target's own credentials
        target = found.repositories.servers.get(job.target_server_id or "")
        if target is None:
            raise MissingConfiguration(f"server {job.target_server_id} does not exist")
        database = Database(id=record.database_id, server_id=target.id, name=job.target_database)
        server = target
    target_server, spec = target_spec(found, job, database, server)
    engine_for(target_server.engine).drop_database(spec)


@bp.activity_trigger(input_name="data", activity=DROP_SCRATCH)
def drop_scratch(data: dict) -> bool:
    """Drops the scratch database and records that none is left; raises when it could not
    (the orchestration retries, then the watchdog's cleanup)."""
    record = DrillRecord.model_validate(data)
    found = services()
    with _context(record):
        if record.scratch_database is not None:
            try:
                _drop(found, record)
            except MissingConfiguration as exc:  # its server is gone, the database with it
                log.warning("drill %s: nothing to drop (%s)", record.id, exc)
        found.repositories.drills.update_fields(record, {"scratch_dropped": True})
    return True


@bp.activity_trigger(input_name="data", activity=FINISH_DRILL)
def finish_drill(data: dict) -> dict:
    """Records the drill's outcome (unless the record is final already), then prunes the
    database's drill records beyond DRILL_RECORDS_KEEP. Returns the stored record and
    whether this call finished it."""
    ask = FinishDrillInput.model_validate(data)
    restored = ask.restored
    drills = services().repositories.drills
    outcome = {
        "status": DrillStatus.SUCCEEDED if restored.ok else DrillStatus.FAILED,
        "finished_at": wall_clock(),
        "restore_seconds": restored.restore_seconds,
        "raw_bytes": restored.raw_bytes,
        "stored_bytes": restored.stored_bytes,
        "bytes_per_second": bytes_per_second(restored.raw_bytes, restored.restore_seconds),
        "tables_compared": restored.tables_compared,
        "compared": restored.compared,
        "differences": restored.differences,
        "error": None if restored.ok else clean_error(restored.error or "drill failed"),
    }
    record, changed = drills.update_unless_final(ask.record, outcome)
    if changed:
        record_drill_telemetry(record)
    try:
        drills.prune(record.database_id, services().settings.drill_records_keep)
    except Exception:  # the next drill prunes again
        log.exception("drill records of %s not pruned", record.database_id)
    return dump_json(FinishedDrill(record=record, changed=changed))


def record_drill_telemetry(record: DrillRecord) -> None:
    """The one place a drill's outcome and RTO reach telemetry (shared/telemetry.py)."""
    server = services().repositories.servers.get(record.server_id)
    telemetry.drill_ended(
        engine=server.engine.value if server else "unknown",
        database_id=record.database_id,
        server_id=record.server_id,
        outcome=record.status.value,
        rto_seconds=record.restore_seconds,
    )
