"""`watchdog`: a timer that makes sure every policy with enabled databases has its loop running,
and that no backup record stays queued or running after its job ended (`settle_backup`).
With telemetry on, it also reports each database's backup age (shared/backup_ages.py).

It runs every five minutes by default. The schedule is the setting WATCHDOG_SCHEDULE (six-field
NCRONTAB), read when the functions are indexed, because a trigger's schedule is part of its
binding. Long virtual-time simulations relax it so that 400 simulated days are not 115,000
watchdog runs.
"""

from __future__ import annotations

import asyncio
import logging
import os

import azure.durable_functions as df
import azure.functions as func

from activities.policy_plan import scheduled_databases
from activities.wiring import services
from orchestrators import bp
from orchestrators.policy_client import ensure_policy_loop
from orchestrators.settlement import settle_orphans
from shared.backup_ages import report_backup_ages
from shared.jobs import DEFAULT_WATCHDOG_SCHEDULE, WATCHDOG

log = logging.getLogger(__name__)

SCHEDULE = os.environ.get("WATCHDOG_SCHEDULE", "").strip() or DEFAULT_WATCHDOG_SCHEDULE


def active_policy_ids() -> list[str]:
    """Policies that exist and schedule at least one enabled database."""
    repositories = services().repositories
    scheduled = scheduled_databases(repositories)
    existing = {policy.id for policy in repositories.policies.all()}
    return sorted(set(scheduled) & existing)


@bp.function_name(WATCHDOG)
@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def watchdog(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    for policy_id in await asyncio.to_thread(active_policy_ids):
        try:
            if await ensure_policy_loop(client, policy_id):
                log.info("watchdog: started the loop of policy %s", policy_id)
        except Exception:  # one broken policy must not keep the others from running
            log.exception("watchdog: could not check the loop of policy %s", policy_id)
    await settle_orphans(client)
    try:
        await asyncio.to_thread(report_backup_ages, services().repositories)
    except Exception:  # a metric is never worth a failed watchdog
        log.exception("watchdog: could not report the backup ages")
