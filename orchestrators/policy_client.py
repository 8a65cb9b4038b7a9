"""Client-side helpers around a policy's eternal loops, for the watchdog and the HTTP API: the
backup loop (`policy-<id>`) and, for a policy with restore drills, the drill loop
(`drills-<id>`).

`ensure_policy_loop` / `ensure_drill_loop` start a loop unless it runs and say what they
found; `policy_changed` wakes the running loops (each reloads its policy, recomputes its
next slot, or stops) and starts those that should run and do not.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities.wiring import services
from shared.jobs import (
    DRILL_LOOP,
    POLICY_CHANGED_EVENT,
    POLICY_LOOP,
    DrillLoopInput,
    PolicyLoopInput,
    drill_loop_instance_id,
    dump_json,
    policy_loop_instance_id,
)

Status = df.OrchestrationRuntimeStatus
ALIVE = {Status.Running, Status.Pending, Status.ContinuedAsNew}
# A loop that ended badly resumes from the last slot it handled (catching up what it missed);
# one that stopped on purpose (no databases) starts afresh.
RESUMABLE = {Status.Failed, Status.Terminated, Status.Canceled}
LoopInput = type[PolicyLoopInput] | type[DrillLoopInput]


@dataclass(frozen=True)
class LoopStarted:
    """A loop that was not running and was started: `found` is the runtime status it had
    (None: it had never run)."""

    instance_id: str
    found: str | None

    @property
    def what_was_found(self) -> str:
        return {
            None: "it had never run",
            "Failed": "it had failed",
            "Terminated": "it had been terminated",
            "Canceled": "it had been cancelled",
            "Completed": "it had stopped (no enabled databases then)",
        }.get(self.found, f"it was {self.found}")


def _last_slot(status: Any, state_type: LoopInput) -> datetime | None:
    raw = status.input_
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return state_type.model_validate(data).last_slot
    except (ValueError, TypeError):
        return None


async def _ensure(
    client: df.DurableOrchestrationClient,
    orchestration: str,
    instance_id: str,
    state_type: LoopInput,
    policy_id: str,
) -> LoopStarted | None:
    status = await client.get_status(instance_id, show_input=True)
    runtime = status.runtime_status if status else None
    if runtime in ALIVE or runtime is Status.Suspended:
        return None
    last_slot = _last_slot(status, state_type) if runtime in RESUMABLE else None
    state = state_type(policy_id=policy_id, last_slot=last_slot)
    await client.start_new(orchestration, instance_id, dump_json(state))
    return LoopStarted(instance_id, getattr(runtime, "value", None))


async def ensure_policy_loop(
    client: df.DurableOrchestrationClient, policy_id: str
) -> LoopStarted | None:
    """Starts the backup loop of `policy_id` unless it is alive."""
    instance_id = policy_loop_instance_id(policy_id)
    return await _ensure(client, POLICY_LOOP, instance_id, PolicyLoopInput, policy_id)


async def ensure_drill_loop(
    client: df.DurableOrchestrationClient, policy_id: str
) -> LoopStarted | None:
    """Starts the drill loop of `policy_id` unless it is alive."""
    instance_id = drill_loop_instance_id(policy_id)
    return await _ensure(client, DRILL_LOOP, instance_id, DrillLoopInput, policy_id)


def has_drills(policy_id: str) -> bool:
    policy = services().repositories.policies.get(policy_id)
    return policy is not None and policy.drill is not None and policy.drill.enabled


async def _wake(client: df.DurableOrchestrationClient, instance_id: str, policy_id: str) -> bool:
    """Raises `policy_changed` on the loop if it is alive; False when it is not."""
    status = await client.get_status(instance_id)
    if not (status and status.runtime_status in ALIVE):
        return False
    await client.raise_event(instance_id, POLICY_CHANGED_EVENT, {"policy_id": policy_id})
    return True


async def policy_changed(client: df.DurableOrchestrationClient, policy_id: str) -> None:
    """Call after a policy, or which databases it schedules, changed (also after a delete)."""
    if not await _wake(client, policy_loop_instance_id(policy_id), policy_id):
        await ensure_policy_loop(client, policy_id)
    drills = drill_loop_instance_id(policy_id)
    if not await _wake(client, drills, policy_id) and await asyncio.to_thread(
        has_drills, policy_id
    ):
        await ensure_drill_loop(client, policy_id)
