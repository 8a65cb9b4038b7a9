"""`drill_loop` replayed by the SDK against hand-built histories (tests/orchestration/replay.py):
a drill whose instance id still runs is skipped, not started over the running one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import function_app  # noqa: F401  (registers every blueprint)
from orchestrators.drill_loop import drill_loop
from orchestrators.policy_loop import RETRY_AFTER_ERROR
from shared import jobs
from shared.models import DailyRule, DrillFrequency, DrillSchedule, Policy
from tests.orchestration.replay import Call, Failure, Replay

POLICY = Policy(
    id="drilled",
    name="drilled",
    daily=DailyRule(keep_count=5, time="02:00"),
    drill=DrillSchedule(frequency=DrillFrequency.DAILY, time="04:00", server_id="drill-pg"),
)
DATABASES = ["a", "b"]
SLOT = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)


def run(running: Any) -> Any:
    def respond(call: Call) -> Any:
        if call.name == jobs.LOAD_DRILL_PLAN:
            return jobs.dump_json(jobs.DrillPlan(policy=POLICY, database_ids=DATABASES))
        if call.name == jobs.FIND_RUNNING_CHILDREN:
            return running
        if call.kind == "sub":
            return {"status": "succeeded"}
        raise AssertionError(f"unexpected call {call}")

    state = jobs.DrillLoopInput(policy_id=POLICY.id, last_slot=SLOT.replace(hour=3))
    replay = Replay(
        drill_loop,
        jobs.dump_json(state),
        respond,
        start=SLOT,
        instance_id=jobs.drill_loop_instance_id(POLICY.id),
    )
    return replay.run()


def test_a_drill_whose_instance_still_runs_is_skipped_and_recorded() -> None:
    still = jobs.drill_instance_id("a", SLOT)
    outcome = run([still])
    assert [c.target for c in outcome.calls if c.kind == "sub"] == [
        jobs.drill_instance_id("b", SLOT)
    ]
    assert outcome.custom_status == {"skipped": {still: jobs.SKIPPED_STILL_RUNNING}}
    assert outcome.status == "continued"
    assert outcome.continue_input["last_slot"] == "2026-05-04T04:00:00Z"


def test_a_failing_check_tries_the_drill_slot_again_later() -> None:
    outcome = run(Failure("storage unreachable"))
    assert outcome.status == "continued"
    assert [c for c in outcome.calls if c.kind == "sub"] == []
    assert outcome.now == SLOT + RETRY_AFTER_ERROR
    assert outcome.continue_input["last_slot"] == "2026-05-04T03:00:00Z"
