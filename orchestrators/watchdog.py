"""`watchdog`: a timer that keeps protection running and says when it stops.

- Every policy with enabled databases has its backup loop running, and every policy with
  drills its drill loop; a backup loop found not running is restarted and reported (a
  warning, an audit entry, a `policy_loop_restarted` notification).
- No backup record stays queued or running after its job ended (`settle_backup`), and no
  drill stays unfinished or leaves its scratch database behind (`drill_cleanup`).
- Each database's freshness against its recovery point objective is checked; a database
  that becomes stale, or fresh again, is notified once (shared/freshness.py).
- With telemetry on, each database's backup age is reported (shared/backup_ages.py).

It runs every five minutes by default. The schedule is the setting WATCHDOG_SCHEDULE (six-field
NCRONTAB), read when the functions are indexed, because a trigger's schedule is part of its
binding. Long virtual-time simulations relax it so that 400 simulated days are not 115,000
watchdog runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from activities.policy_plan import scheduled_databases
from activities.wiring import services
from orchestrators import bp
from orchestrators.drill_client import clean_up_drills
from orchestrators.policy_client import LoopStarted, ensure_drill_loop, ensure_policy_loop
from orchestrators.settlement import runtime_status, settle_orphans
from shared.audit import audit_entry
from shared.backup_ages import report_backup_ages
from shared.jobs import (
    DEFAULT_WATCHDOG_SCHEDULE,
    FRESHNESS_CHECK,
    FRESHNESS_CHECK_INSTANCE,
    RUNNING_STATUSES,
    WATCHDOG,
    FreshnessCheckInput,
    Notification,
    NotificationEvent,
    dump_json,
)
from shared.notify import NotificationFailed, notify

log = logging.getLogger(__name__)

SCHEDULE = os.environ.get("WATCHDOG_SCHEDULE", "").strip() or DEFAULT_WATCHDOG_SCHEDULE
ACTOR = "watchdog"


def active_policies() -> tuple[list[str], list[str]]:
    """Policies that exist and schedule at least one enabled database, and those of them
    with restore drills."""
    repositories = services().repositories
    scheduled = scheduled_databases(repositories)
    policies = {policy.id: policy for policy in repositories.policies.all()}
    active = sorted(set(scheduled) & set(policies))
    drilled = [pid for pid in active if (drill := policies[pid].drill) and drill.enabled]
    return active, drilled


def report_restart(policy_id: str, started: LoopStarted) -> None:
    """A loop that should have run did not: a warning, an audit entry, a notification."""
    what = f"the loop of policy {policy_id} was not running ({started.what_was_found})"
    log.warning("watchdog: %s; started it again", what)
    details = {"instance_id": started.instance_id, "found": started.found}
    entry = audit_entry(ACTOR, "policy_loop.restart", f"policies/{policy_id}", details=details)
    services().repositories.audit.append(entry)
    note = Notification(
        event=NotificationEvent.POLICY_LOOP_RESTARTED,
        policy_id=policy_id,
        error=f"{what}; the watchdog started it again",
        at=datetime.now(UTC),
    )
    try:
        notify(services().settings.notify_webhook_url, dump_json(note))
    except NotificationFailed as exc:
        log.warning("watchdog: the restart of policy %s was not notified: %s", policy_id, exc)


async def keep_loops_running(client: df.DurableOrchestrationClient) -> set[str]:
    """Starts the loops that should run and do not; the policies whose backup loop it
    restarted."""
    active, drilled = await asyncio.to_thread(active_policies)
    restarted: set[str] = set()
    for policy_id in active:
        try:  # one broken policy must not keep the others from running
            started = await ensure_policy_loop(client, policy_id)
            if started is not None:
                restarted.add(policy_id)
                await asyncio.to_thread(report_restart, policy_id, started)
            if policy_id in drilled and await ensure_drill_loop(client, policy_id):
                log.info("watchdog: started the drill loop of policy %s", policy_id)
        except Exception:
            log.exception("watchdog: could not check the loops of policy %s", policy_id)
    return restarted


async def check_freshness(client: df.DurableOrchestrationClient, restarted: set[str]) -> None:
    """Starts the freshness check, unless the previous one still runs."""
    status = await client.get_status(FRESHNESS_CHECK_INSTANCE)
    if runtime_status(status) in RUNNING_STATUSES:
        return
    job = FreshnessCheckInput(restarted=sorted(restarted))
    await client.start_new(FRESHNESS_CHECK, FRESHNESS_CHECK_INSTANCE, dump_json(job))


@bp.function_name(WATCHDOG)
@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def watchdog(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    restarted = await keep_loops_running(client)
    for step in (settle_orphans, clean_up_drills):
        try:
            await step(client)
        except Exception:  # storage down: the next run tries again
            log.exception("watchdog: %s failed", step.__name__)
    try:
        await check_freshness(client, restarted)
    except Exception:
        log.exception("watchdog: the freshness check was not started")
    try:
        await asyncio.to_thread(report_backup_ages, services().repositories)
    except Exception:  # a metric is never worth a failed watchdog
        log.exception("watchdog: could not report the backup ages")
