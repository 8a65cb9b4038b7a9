"""`backup_database` replayed by the SDK against hand-built histories (see replay.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import function_app  # noqa: F401  (registers every blueprint)
from orchestrators.backup_database import backup_database
from shared import jobs
from shared.models import BackupRecord, Database, Engine, Server, Tier
from tests.orchestration.replay import Call, Failure, Replay

SLOT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
INSTANCE = jobs.backup_instance_id("db1", SLOT)
JOB = jobs.BackupJob(database_id="db1", slot_time=SLOT, tiers=[Tier.DAILY, Tier.WEEKLY])


def target() -> jobs.BackupTarget:
    server = Server(
        id="srv1", name="s", engine=Engine.POSTGRESQL, host="h", port=5432, username="u"
    )
    database = Database(id="db1", server_id="srv1", name="d")
    record = BackupRecord(id=jobs.backup_record_id(INSTANCE), database_id="db1", server_id="srv1")
    return jobs.BackupTarget(server=server, database=database, record=record)


def prepared(**extra: Any) -> dict[str, Any]:
    values = {
        "record_id": jobs.backup_record_id(INSTANCE),
        "server_id": "srv1",
        "server_limit": 1,
        "lease_seconds": 3600,
        "dump_max_attempts": 3,
        "dump_retry_seconds": 30,
        "target": target(),
        "policy_id": "development",
        **extra,
    }
    return jobs.dump_json(jobs.PreparedBackup(**values))


HELD_UNTIL = "2026-03-01T02:10:00Z"


class Script:
    """Answers every call; `dump_fails` makes every dump attempt fail (`permanently`: with a
    failure another attempt cannot cure); `busy_polls` makes the database entity refuse the
    lock that many times first, held by `other`, whose job is finished if `holder_finished`;
    `finish_fails` makes that many attempts to record the result fail; `server_refusals`
    makes the server refuse its slot that many times; `waiter` is who the server hands the
    slot over to."""

    def __init__(
        self,
        *,
        dump_fails: bool = False,
        permanently: bool = False,
        busy_polls: int = 0,
        holder_finished: bool = False,
        failures_before: int = 0,
        finish_fails: int = 0,
        server_refusals: int = 0,
        waiter: dict[str, str] | None = None,
    ):
        self.dump_fails = dump_fails
        self.permanently = permanently
        self.busy_polls = busy_polls
        self.holder_finished = holder_finished
        self.failures_before = failures_before
        self.finish_fails = finish_fails
        self.server_refusals = server_refusals
        self.waiter = waiter

    def __call__(self, call: Call) -> Any:
        if call.kind == "activity":
            return self.activity(call)
        if call.kind == "entity":
            return self.entity(call)
        return None

    def activity(self, call: Call) -> Any:
        if call.name == jobs.PREPARE_BACKUP:
            return prepared()
        if call.name == jobs.CHECK_CONNECTION:
            return {"ok": True, "server_version": "15"}
        if call.name == jobs.DUMP_DATABASE:
            if self.dump_fails and self.permanently:
                return {"error": "permission denied for table items"}
            if self.dump_fails:
                return Failure(f"dump attempt {call.attempt} failed")
            record_id = call.input["target"]["record"]["id"]
            result = {
                "record_id": record_id,
                "blob_name": "b",
                "raw_bytes": 10,
                "stored_bytes": 5,
                "sha256": "0" * 64,
            }
            return {"result": result}
        if call.name == jobs.FIND_FINISHED_HOLDERS:
            return call.input["holders"] if self.holder_finished else []
        if call.name == jobs.FINISH_BACKUP:
            if self.finish_fails > 0:
                self.finish_fails -= 1
                return Failure("storage is down")
            status = "succeeded" if call.input["succeeded"] else "failed"
            return {
                "record_id": call.input["record_id"],
                "status": status,
                "error": call.input["error"],
            }
        if call.name == jobs.APPLY_RETENTION:
            return {"database_id": "db1", "deleted": ["old1"], "kept": 3, "decisions": []}
        if call.name in (jobs.SEND_NOTIFICATION, jobs.WAKE_LEASE_WAITER):
            return True
        raise AssertionError(f"unexpected activity {call.name}")

    def entity(self, call: Call) -> Any:
        if call.name == "acquire":
            reclaimed = call.input["reclaim"].get("other") == HELD_UNTIL
            if call.target == "@database@db1" and self.busy_polls > 0 and not reclaimed:
                self.busy_polls -= 1
                return {
                    "granted": False,
                    "holder": "other",
                    "expires_at": HELD_UNTIL,
                    "holders": {"other": HELD_UNTIL},
                }
            if call.target == "@server@srv1" and self.server_refusals > 0:
                self.server_refusals -= 1
                return {
                    "granted": False,
                    "holder": "other",
                    "expires_at": HELD_UNTIL,
                    "holders": {"other": HELD_UNTIL},
                }
            return {
                "granted": True,
                "holder": call.input["owner"],
                "expires_at": "2026-03-01T03:00:00Z",
            }
        if call.name == "release":
            return self.waiter
        if call.name == "record_outcome":
            if call.input["succeeded"]:
                previous = self.failures_before
                return {
                    "consecutive_failures": 0,
                    "recovered": previous > 0,
                    "previous_failures": previous,
                }
            return {"consecutive_failures": self.failures_before + 1}
        raise AssertionError(f"unexpected entity operation {call.name}")


def run(script: Script) -> Any:
    replay = Replay(backup_database, jobs.dump_json(JOB), script, start=SLOT, instance_id=INSTANCE)
    return replay.run()


def names(outcome: Any, kind: str = "activity") -> list[str]:
    return [call.name for call in outcome.calls if call.kind == kind]


def test_a_backup_takes_both_leases_dumps_records_and_releases_both() -> None:
    outcome = run(Script())
    assert outcome.status == "completed", outcome.error
    assert names(outcome) == [
        jobs.PREPARE_BACKUP,
        jobs.CHECK_CONNECTION,
        jobs.DUMP_DATABASE,
        jobs.FINISH_BACKUP,
        jobs.APPLY_RETENTION,
    ]
    entity_calls = [(c.target, c.name) for c in outcome.calls if c.kind == "entity"]
    assert entity_calls == [
        ("@database@db1", "acquire"),
        ("@server@srv1", "acquire"),
        ("@database@db1", "acquire"),  # renewed once the server slot is granted
        ("@server@srv1", "release"),  # handed over (nobody waits: nobody is woken)
        ("@database@db1", "record_outcome"),
    ]
    release = next(c for c in outcome.calls if c.name == "release" and c.kind == "entity")
    assert release.input == {"owner": INSTANCE, "hand_over": True}
    signals = [(c.target, c.name) for c in outcome.calls if c.kind == "signal"]
    assert signals == [("@database@db1", "release")]
    server_acquire = next(
        c for c in outcome.calls if c.target == "@server@srv1" and c.name == "acquire"
    )
    assert server_acquire.input["limit"] == 1 and server_acquire.input["owner"] == INSTANCE
    output = jobs.BackupOutput.model_validate(outcome.output)
    assert output.status == "succeeded" and output.record_id == jobs.backup_record_id(INSTANCE)
    assert output.tiers == [Tier.DAILY, Tier.WEEKLY] and output.retention_deleted == ["old1"]
    assert outcome.custom_status["phase"] == "done" and outcome.custom_status["bytes"] == 10


def test_a_held_database_lock_is_polled_with_durable_timers() -> None:
    outcome = run(Script(busy_polls=3))
    assert outcome.status == "completed", outcome.error
    acquires = [c for c in outcome.calls if c.target == "@database@db1" and c.name == "acquire"]
    assert len(acquires) == 5  # refused three times, granted, renewed after the server slot
    assert outcome.now > SLOT  # the clock moved with the polling timers
    # the dump only starts once the lock was granted (the fourth ask)
    dump = next(c for c in outcome.calls if c.name == jobs.DUMP_DATABASE)
    assert outcome.calls.index(acquires[3]) < outcome.calls.index(dump)
    # the holder was checked at the first refusal only (it still runs), and never reclaimed
    checks = [c for c in outcome.calls if c.name == jobs.FIND_FINISHED_HOLDERS]
    assert [c.input["holders"] for c in checks] == [["other"]]
    assert all(c.input["reclaim"] == {} for c in acquires)


def test_the_lease_of_a_holder_whose_job_ended_is_reclaimed_at_once() -> None:
    outcome = run(Script(busy_polls=50, holder_finished=True))
    assert outcome.status == "completed", outcome.error
    acquires = [c for c in outcome.calls if c.target == "@database@db1" and c.name == "acquire"]
    assert [c.input["reclaim"] for c in acquires[:2]] == [{}, {"other": HELD_UNTIL}]
    assert outcome.now == SLOT  # no polling timer: the next ask reclaimed the lease


def test_a_permanent_dump_failure_is_not_retried() -> None:
    outcome = run(Script(dump_fails=True, permanently=True))
    assert outcome.status == "completed", outcome.error
    assert [c.attempt for c in outcome.calls if c.name == jobs.DUMP_DATABASE] == [1]
    finish = next(c for c in outcome.calls if c.name == jobs.FINISH_BACKUP)
    assert finish.input["error"] == "permission denied for table items"
    assert jobs.BackupOutput.model_validate(outcome.output).status == "failed"


def test_recording_the_result_is_retried_with_doubling_pauses() -> None:
    outcome = run(Script(dump_fails=True, permanently=True, finish_fails=3))
    assert outcome.status == "completed", outcome.error
    finishes = [c for c in outcome.calls if c.name == jobs.FINISH_BACKUP]
    assert len(finishes) == 4
    assert outcome.now - SLOT == timedelta(seconds=30 + 60 + 120)
    assert jobs.BackupOutput.model_validate(outcome.output).status == "failed"


def test_a_result_that_cannot_be_recorded_fails_the_job_after_five_attempts() -> None:
    # The record is left running: the watchdog settles it (test_faults.py).
    outcome = run(Script(finish_fails=99))
    assert outcome.status == "failed"
    assert len([c for c in outcome.calls if c.name == jobs.FINISH_BACKUP]) == 5


def test_a_failing_dump_is_retried_then_recorded_failed_and_notified() -> None:
    outcome = run(Script(dump_fails=True))
    assert outcome.status == "completed", outcome.error
    dumps = [c for c in outcome.calls if c.name == jobs.DUMP_DATABASE]
    assert [c.attempt for c in dumps] == [1, 2, 3]
    finish = next(c for c in outcome.calls if c.name == jobs.FINISH_BACKUP)
    assert finish.input["succeeded"] is False and "dump attempt 3 failed" in finish.input["error"]
    note = next(c for c in outcome.calls if c.name == jobs.SEND_NOTIFICATION)
    assert note.input["event"] == "backup_failed" and note.input["consecutive_failures"] == 1
    signals = sorted((c.target, c.name) for c in outcome.calls if c.kind == "signal")
    assert signals == [("@database@db1", "release")]
    assert ("@server@srv1", "release") in [(c.target, c.name) for c in outcome.calls]
    assert jobs.BackupOutput.model_validate(outcome.output).status == "failed"


def test_the_server_slot_goes_to_the_backup_that_waits_for_it_and_it_is_woken() -> None:
    waiter = {"owner": "backup-db2-20260301T0200Z", "event": "server-free-0"}
    outcome = run(Script(waiter=waiter))
    assert outcome.status == "completed", outcome.error
    wake = next(c for c in outcome.calls if c.name == jobs.WAKE_LEASE_WAITER)
    assert wake.input == waiter
    release = next(c for c in outcome.calls if c.name == "release" and c.kind == "entity")
    assert outcome.calls.index(release) < outcome.calls.index(wake)


def test_a_refused_backup_is_woken_before_its_poll_and_asks_again() -> None:
    woken_at = SLOT + timedelta(seconds=1)  # before the first poll (2 s)
    script = Script(server_refusals=1)
    replay = Replay(
        backup_database,
        jobs.dump_json(JOB),
        script,
        start=SLOT,
        instance_id=INSTANCE,
        events=[(woken_at, "server-free-0", None)],
    )
    outcome = replay.run()
    assert outcome.status == "completed", outcome.error
    asks = [c for c in outcome.calls if c.target == "@server@srv1" and c.name == "acquire"]
    assert [c.input["wake_event"] for c in asks] == ["server-free-0", "server-free-1"]
    assert outcome.now == woken_at  # the wake-up ended the wait; the poll timer never fired


def test_the_first_success_after_failures_notifies_a_recovery() -> None:
    outcome = run(Script(failures_before=2))
    note = next(c for c in outcome.calls if c.name == jobs.SEND_NOTIFICATION)
    assert note.input["event"] == "backup_recovered" and note.input["consecutive_failures"] == 2


def test_a_slot_already_backed_up_does_nothing_more() -> None:
    def script(call: Call) -> Any:
        if call.name == jobs.PREPARE_BACKUP:
            return prepared(already_done=True, status="succeeded")
        raise AssertionError(f"unexpected call {call}")

    replay = Replay(backup_database, jobs.dump_json(JOB), script, start=SLOT, instance_id=INSTANCE)
    outcome = replay.run()
    assert outcome.status == "completed" and names(outcome) == [jobs.PREPARE_BACKUP]
    assert jobs.BackupOutput.model_validate(outcome.output).status == "succeeded"
