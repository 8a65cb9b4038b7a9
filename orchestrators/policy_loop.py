"""`policy_loop`: one eternal orchestration per policy (instance id `policy-<policy id>`).

    load the policy and its databases → slots due since the last one handled? back them up
    (one `backup_database` per database, instance id from database + slot) → sleep until
    the next slot or a `policy_changed` event → continue_as_new

Each generation handles one slot, so histories stay short. After downtime only the most
recent missed slot of each tier runs (`latest_missed_slots`), never a storm. A slot whose
time passes while the previous slot's backups still run is caught up the same way.

A child whose instance id is still running (the loop was restarted while that slot's
backup ran, and catches the slot up again) is skipped and recorded in the custom status as
"skipped: previous still running": on Azure a sub-orchestration started over a running
instance silently starts a second execution over it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df

from orchestrators import bp
from shared.jobs import (
    BACKUP_DATABASE,
    FIND_RUNNING_CHILDREN,
    LOAD_POLICY_PLAN,
    POLICY_CHANGED_EVENT,
    POLICY_LOOP,
    SKIPPED_STILL_RUNNING,
    BackupJob,
    ChildCheck,
    PolicyLoopInput,
    PolicyLoopOutput,
    PolicyPlan,
    backup_instance_id,
    dump_json,
)
from shared.models import Model, Trigger
from shared.schedule import Slot, latest_missed_slots, next_slot

# After a failure to load the policy (storage down), the loop tries again this much later.
RETRY_AFTER_ERROR = timedelta(minutes=5)
# The longest single wait. Azure Storage splits a durable timer over 6 days
# (`maximumShortTimerDuration`) into 3-day hops, and the SDK schedules each later hop as an
# action outside the `task_any` the timer is in: after a `policy_changed` event, the
# extension would only continue the loop as new once the pending hop fired, up to 3 days
# late. A far slot is therefore waited for in generations of at most this long.
MAX_SLEEP = timedelta(days=5)
LoopState = TypeVar("LoopState", bound=Model)


@bp.orchestration_trigger(context_name="context", orchestration=POLICY_LOOP)
def policy_loop(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    state = PolicyLoopInput.model_validate(context.get_input())
    now = context.current_utc_datetime
    try:
        plan = PolicyPlan.model_validate(
            (yield context.call_activity(LOAD_POLICY_PLAN, state.policy_id))
        )
    except Exception:  # errors must not end the loop: wait, then start a fresh generation
        yield from start_over_later(context, state)
        return None
    if plan.policy is None or not plan.database_ids:
        reason = "policy deleted" if plan.policy is None else "no enabled databases"
        return dump_json(PolicyLoopOutput(policy_id=state.policy_id, stopped_because=reason))

    last_slot = state.last_slot or now
    due = latest_missed_slots(plan.policy, last_slot, now)
    if due:
        try:
            yield from back_up_slots(context, plan.database_ids, due)
        except ChildCheckFailed:  # storage down: try the slot again a little later
            yield from start_over_later(context, state)
            return None
        last_slot = due[-1].at
    upcoming = next_slot(plan.policy, last_slot)
    if upcoming is None:
        stopped = PolicyLoopOutput(policy_id=state.policy_id, stopped_because="no enabled tier")
        return dump_json(stopped)
    yield from sleep_until_or_change(context, upcoming.at)
    context.continue_as_new(
        dump_json(PolicyLoopInput(policy_id=state.policy_id, last_slot=last_slot))
    )
    return None


def start_over_later(
    context: df.DurableOrchestrationContext, state: LoopState
) -> Generator[Any, Any, None]:
    """After an error: a fresh generation a little later. A first generation remembers its
    start (`last_slot`), so a slot during the wait is caught up."""
    now = context.current_utc_datetime
    yield context.create_timer(now + RETRY_AFTER_ERROR)
    last_slot = getattr(state, "last_slot", None) or now
    context.continue_as_new(dump_json(state.model_copy(update={"last_slot": last_slot})))


def sleep_until_or_change(
    context: df.DurableOrchestrationContext, at: datetime
) -> Generator[Any, Any, None]:
    """Wakes at `at` (or after `MAX_SLEEP`, for a far slot), or earlier when the policy
    changed; the next generation reloads the policy and sleeps on if the slot is not due."""
    timer = context.create_timer(min(at, context.current_utc_datetime + MAX_SLEEP))
    changed = context.wait_for_external_event(POLICY_CHANGED_EVENT)
    winner = yield context.task_any([timer, changed])
    if winner is not timer:
        timer.cancel()


class ChildCheckFailed(Exception):
    """The loop could not learn which of its children still run."""


def run_children(
    context: df.DurableOrchestrationContext, orchestration: str, children: dict[str, Any]
) -> Generator[Any, Any, None]:
    """Starts one `orchestration` per instance id → input and waits for them, except those
    whose id still runs: those are skipped and listed in the custom status. Each child
    records its own failure, so one failing child neither stops the others nor the loop."""
    if not children:
        return
    check = dump_json(ChildCheck(instance_ids=list(children)))
    try:
        running = set((yield context.call_activity(FIND_RUNNING_CHILDREN, check)))
    except Exception as exc:
        raise ChildCheckFailed(str(exc)) from None
    if running:
        skipped = {instance_id: SKIPPED_STILL_RUNNING for instance_id in sorted(running)}
        context.set_custom_status({"skipped": skipped})
    tasks = [
        context.call_sub_orchestrator(orchestration, job, instance_id)
        for instance_id, job in children.items()
        if instance_id not in running
    ]
    if tasks:
        with contextlib.suppress(Exception):  # the failed child's record says why
            yield context.task_all(tasks)


def back_up_slots(
    context: df.DurableOrchestrationContext, database_ids: list[str], slots: list[Slot]
) -> Generator[Any, Any, None]:
    """One `backup_database` per database and slot (see `run_children`)."""
    backups = {
        backup_instance_id(database_id, slot.at): dump_json(
            BackupJob(
                database_id=database_id,
                trigger=Trigger.SCHEDULE,
                slot_time=slot.at,
                tiers=slot.tier_list(),
            )
        )
        for slot in slots
        for database_id in database_ids
    }
    yield from run_children(context, BACKUP_DATABASE, backups)
