"""`policy_loop` replayed by the SDK against hand-built histories (see replay.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import function_app  # noqa: F401  (registers every blueprint)
from orchestrators.policy_loop import RETRY_AFTER_ERROR, policy_loop
from shared import jobs
from shared.seed_policies import seeded_policy
from tests.orchestration.replay import Call, Failure, Replay

POLICY = seeded_policy("production-standard")  # hourly on the hour, the rest at 02:00 UTC
DATABASES = ["db-a", "db-b"]


def plan(**extra: Any) -> dict[str, Any]:
    values = {"policy": POLICY, "database_ids": DATABASES, **extra}
    return jobs.dump_json(jobs.PolicyPlan(**values))


def script(plan_result: Any = None, sub_result: Any = None, running: Any = None):
    def respond(call: Call) -> Any:
        if call.name == jobs.LOAD_POLICY_PLAN:
            return plan() if plan_result is None else plan_result
        if call.name == jobs.FIND_RUNNING_CHILDREN:
            return [] if running is None else running
        if call.kind == "sub":
            if sub_result is not None:
                return sub_result
            return {"status": "succeeded"}
        raise AssertionError(f"unexpected call {call}")

    return respond


def run(start: datetime, last_slot: datetime | None, respond, events=None) -> Any:
    state = jobs.PolicyLoopInput(policy_id=POLICY.id, last_slot=last_slot)
    replay = Replay(
        policy_loop,
        jobs.dump_json(state),
        respond,
        start=start,
        instance_id=jobs.policy_loop_instance_id(POLICY.id),
        events=events,
    )
    return replay.run()


def subs(outcome: Any) -> list[Call]:
    return [call for call in outcome.calls if call.kind == "sub"]


def test_first_start_backs_up_nothing_and_sleeps_until_the_next_slot() -> None:
    start = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    outcome = run(start, None, script())
    assert outcome.status == "continued" and subs(outcome) == []
    assert outcome.now == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert outcome.continue_input["last_slot"] == "2026-03-01T01:30:00Z"


def test_at_a_slot_every_database_gets_one_backup_with_a_deterministic_instance_id() -> None:
    slot = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # a Sunday: hourly + daily + weekly + monthly
    outcome = run(slot, slot - timedelta(minutes=30), script())
    assert outcome.status == "continued"
    calls = subs(outcome)
    assert [c.target for c in calls] == [jobs.backup_instance_id(db, slot) for db in DATABASES]
    assert all(c.name == jobs.BACKUP_DATABASE for c in calls)
    job = jobs.BackupJob.model_validate(calls[0].input)
    assert job.trigger == "schedule" and job.slot_time == slot
    assert job.tiers == ["hourly", "daily", "weekly", "monthly"]
    assert outcome.continue_input["last_slot"] == "2026-03-01T02:00:00Z"
    assert outcome.now == slot + timedelta(hours=1)  # slept until the next hourly slot


def test_after_downtime_only_the_latest_missed_slot_of_each_tier_runs() -> None:
    last = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    now = last + timedelta(days=3, hours=5, minutes=20)  # Wed 07:20
    outcome = run(now, last, script())
    slots = sorted({(c.input["slot_time"], tuple(c.input["tiers"])) for c in subs(outcome)})
    assert slots == [
        ("2026-03-04T02:00:00Z", ("daily",)),
        ("2026-03-04T07:00:00Z", ("hourly",)),
    ]
    assert len(subs(outcome)) == 4  # two slots x two databases, not 77 hourly slots
    assert outcome.continue_input["last_slot"] == "2026-03-04T07:00:00Z"


def test_a_deleted_policy_or_one_without_databases_stops_the_loop() -> None:
    start = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    gone = run(start, None, script(plan_result=jobs.dump_json(jobs.PolicyPlan())))
    assert gone.status == "completed" and gone.output["stopped_because"] == "policy deleted"
    empty = run(start, None, script(plan_result=plan(database_ids=[])))
    assert empty.status == "completed" and empty.output["stopped_because"] == "no enabled databases"


def test_a_failing_policy_load_waits_and_tries_again_in_a_new_generation() -> None:
    start = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    outcome = run(start, start, script(plan_result=Failure("storage unreachable")))
    assert outcome.status == "continued"
    assert outcome.now == start + RETRY_AFTER_ERROR
    assert outcome.continue_input["last_slot"] == "2026-03-01T01:30:00Z"
    # A first generation (no last slot yet) remembers when it started: a slot falling
    # during the wait is then caught up by the next generation, not skipped.
    first = run(start, None, script(plan_result=Failure("storage unreachable")))
    assert first.continue_input["last_slot"] == "2026-03-01T01:30:00Z"


def test_a_failed_backup_does_not_end_the_loop() -> None:
    slot = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    outcome = run(slot, slot - timedelta(minutes=30), script(sub_result=Failure("boom")))
    assert outcome.status == "continued"
    assert outcome.continue_input["last_slot"] == "2026-03-01T02:00:00Z"


def test_a_policy_change_wakes_the_loop_before_the_slot() -> None:
    start = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    changed_at = start + timedelta(minutes=10)
    events = [(changed_at, jobs.POLICY_CHANGED_EVENT, {"policy_id": POLICY.id})]
    outcome = run(start, start, script(), events=events)
    assert outcome.status == "continued" and subs(outcome) == []
    assert outcome.now == changed_at
    assert outcome.continue_input["last_slot"] == "2026-03-01T01:30:00Z"


def test_a_backup_whose_instance_still_runs_is_skipped_and_recorded() -> None:
    slot = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    still = jobs.backup_instance_id("db-a", slot)
    outcome = run(slot, slot - timedelta(minutes=30), script(running=[still]))
    checks = [c for c in outcome.calls if c.name == jobs.FIND_RUNNING_CHILDREN]
    assert [c.input["instance_ids"] for c in checks] == [
        [jobs.backup_instance_id(db, slot) for db in DATABASES]
    ]
    assert [c.target for c in subs(outcome)] == [jobs.backup_instance_id("db-b", slot)]
    assert outcome.custom_status == {"skipped": {still: jobs.SKIPPED_STILL_RUNNING}}
    assert outcome.status == "continued"
    assert outcome.continue_input["last_slot"] == "2026-03-01T02:00:00Z"


def test_a_failing_check_of_running_backups_tries_the_slot_again_later() -> None:
    slot = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    last = slot - timedelta(minutes=30)
    outcome = run(slot, last, script(running=Failure("storage unreachable")))
    assert outcome.status == "continued" and subs(outcome) == []
    assert outcome.now == slot + RETRY_AFTER_ERROR
    assert outcome.continue_input["last_slot"] == "2026-03-01T01:30:00Z"  # 02:00 again
