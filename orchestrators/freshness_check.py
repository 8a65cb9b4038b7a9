"""`freshness_check`: each database's freshness, on the watchdog's timer.

    assess every database against its RPO, storing the changes of state → notify each change
    not notified yet (once: a failed post is tried again by the next check)

Started by the watchdog (instance id `freshness-check`, one at a time). An orchestration, not
the watchdog itself, so that "now" is the durable clock like everywhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from shared.jobs import (
    CHECK_FRESHNESS,
    FRESHNESS_CHECK,
    NOTIFY_FRESHNESS,
    CheckFreshnessInput,
    FreshnessChanges,
    FreshnessCheckInput,
    dump_json,
)


@bp.orchestration_trigger(context_name="context", orchestration=FRESHNESS_CHECK)
def freshness_check(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    job = FreshnessCheckInput.model_validate(context.get_input())
    ask = CheckFreshnessInput(now=context.current_utc_datetime, restarted=job.restarted)
    found = FreshnessChanges.model_validate(
        (yield context.call_activity(CHECK_FRESHNESS, dump_json(ask)))
    )
    notified = 0
    for change in found.changes:
        with contextlib.suppress(Exception):  # the webhook is down: the next check tries again
            notified += bool((yield context.call_activity(NOTIFY_FRESHNESS, dump_json(change))))
    return notified
