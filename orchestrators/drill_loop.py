"""`drill_loop`: one eternal orchestration per policy with restore drills (instance id
`drills-<policy id>`).

    load the policy, its databases and when each was last drilled → a drill slot due since
    the last one handled? drill the databases it takes (all, or the least recently drilled
    sample; one `drill_database` each, instance id from database + slot) → sleep until the
    next drill slot or a `policy_changed` event → continue_as_new

Like the backup loop, it handles one slot per generation, after downtime runs only the
most recent missed drill slot, and skips a drill whose instance id still runs.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from orchestrators.policy_loop import (
    ChildCheckFailed,
    run_children,
    sleep_until_or_change,
    start_over_later,
)
from shared.drills import select_for_drill
from shared.jobs import (
    DRILL_DATABASE,
    DRILL_LOOP,
    LOAD_DRILL_PLAN,
    DrillJob,
    DrillLoopInput,
    DrillPlan,
    PolicyLoopOutput,
    drill_instance_id,
    dump_json,
)
from shared.schedule import latest_missed_drill, next_drill


@bp.orchestration_trigger(context_name="context", orchestration=DRILL_LOOP)
def drill_loop(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    state = DrillLoopInput.model_validate(context.get_input())
    now = context.current_utc_datetime
    try:
        plan = DrillPlan.model_validate(
            (yield context.call_activity(LOAD_DRILL_PLAN, state.policy_id))
        )
    except Exception:  # errors must not end the loop
        yield from start_over_later(context, state)
        return None
    policy = plan.policy
    if policy is None or not plan.database_ids or next_drill(policy, now) is None:
        reason = "policy deleted" if policy is None else "no drills or no enabled databases"
        return dump_json(PolicyLoopOutput(policy_id=state.policy_id, stopped_because=reason))

    last_slot = state.last_slot or now
    due = latest_missed_drill(policy, last_slot, now)
    if due is not None:
        try:
            yield from drill_databases(context, plan, due)
        except ChildCheckFailed:  # storage down: try the slot again a little later
            yield from start_over_later(context, state)
            return None
        last_slot = due
    upcoming = next_drill(policy, last_slot)
    assert upcoming is not None  # the schedule is enabled (checked above)
    yield from sleep_until_or_change(context, upcoming)
    context.continue_as_new(
        dump_json(DrillLoopInput(policy_id=state.policy_id, last_slot=last_slot))
    )
    return None


def drill_databases(
    context: df.DurableOrchestrationContext, plan: DrillPlan, slot: datetime
) -> Generator[Any, Any, None]:
    """One `drill_database` per database the drill takes (see `run_children`)."""
    assert plan.policy is not None and plan.policy.drill is not None
    chosen = select_for_drill(plan.database_ids, plan.last_drilled, plan.policy.drill.sample_size)
    drills = {
        drill_instance_id(database_id, slot): dump_json(
            DrillJob(database_id=database_id, slot_time=slot)
        )
        for database_id in chosen
    }
    yield from run_children(context, DRILL_DATABASE, drills)
