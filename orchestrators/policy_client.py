"""Client-side helpers around the policy loops, for the watchdog and the HTTP API.

`ensure_policy_loop` starts a policy's loop unless it runs; `policy_changed` wakes a
running loop (it reloads its policy, recomputes its next slot, or stops) and starts one
that is not running.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from shared.jobs import (
    POLICY_CHANGED_EVENT,
    POLICY_LOOP,
    PolicyLoopInput,
    dump_json,
    policy_loop_instance_id,
)

Status = df.OrchestrationRuntimeStatus
ALIVE = {Status.Running, Status.Pending, Status.ContinuedAsNew}
# A loop that ended badly resumes from the last slot it handled (catching up what it missed);
# one that stopped on purpose (no databases) starts afresh.
RESUMABLE = {Status.Failed, Status.Terminated, Status.Canceled}


def _last_slot(status: Any) -> datetime | None:
    raw = status.input_
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return PolicyLoopInput.model_validate(data).last_slot
    except (ValueError, TypeError):
        return None


async def ensure_policy_loop(client: df.DurableOrchestrationClient, policy_id: str) -> bool:
    """Starts the loop of `policy_id` unless it is alive; True when it was started."""
    instance_id = policy_loop_instance_id(policy_id)
    status = await client.get_status(instance_id, show_input=True)
    runtime = status.runtime_status if status else None
    if runtime in ALIVE or runtime is Status.Suspended:
        return False
    last_slot = _last_slot(status) if runtime in RESUMABLE else None
    state = PolicyLoopInput(policy_id=policy_id, last_slot=last_slot)
    await client.start_new(POLICY_LOOP, instance_id, dump_json(state))
    return True


async def policy_changed(client: df.DurableOrchestrationClient, policy_id: str) -> None:
    """Call after a policy, or which databases it schedules, changed (also after a delete)."""
    instance_id = policy_loop_instance_id(policy_id)
    status = await client.get_status(instance_id)
    if status and status.runtime_status in ALIVE:
        await client.raise_event(instance_id, POLICY_CHANGED_EVENT, {"policy_id": policy_id})
        return
    await ensure_policy_loop(client, policy_id)
