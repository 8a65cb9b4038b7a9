"""The few things the routes ask of the durable client: start, status, wake a policy loop."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import azure.durable_functions as df

from http_api.calls import Reply
from http_api.schemas.common import JobAccepted, JobStatus
from shared.jobs import POLICY_CHANGED_EVENT, policy_loop_instance_id

log = logging.getLogger(__name__)

# Statuses reported as running jobs.
ACTIVE = (df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending)


def accepted(instance_id: str, record_id: str | None = None) -> Reply:
    """202 pointing at this API's own job route.

    The extension's management URLs are not handed out: they carry the task hub's system
    key, which would let any caller terminate or purge every orchestration.
    """
    status_url = f"/api/jobs/{instance_id}"
    body = JobAccepted(instance_id=instance_id, status_url=status_url, record_id=record_id)
    return Reply(body, 202, {"Location": status_url, "Retry-After": "5"})


def job_status(status: Any) -> JobStatus:
    runtime = getattr(status, "runtime_status", None)
    return JobStatus(
        instance_id=status.instance_id,
        name=getattr(status, "name", None),
        runtime_status=getattr(runtime, "value", runtime),
        custom_status=getattr(status, "custom_status", None),
        output=getattr(status, "output", None),
        created_time=getattr(status, "created_time", None),
        last_updated_time=getattr(status, "last_updated_time", None),
    )


async def wake_policy_loops(
    client: df.DurableOrchestrationClient, policy_ids: Iterable[str | None], reason: str
) -> None:
    """Tells each policy's loop to recompute; a loop not running yet is the watchdog's job."""
    for policy_id in sorted({pid for pid in policy_ids if pid}):
        try:
            await client.raise_event(
                policy_loop_instance_id(policy_id), POLICY_CHANGED_EVENT, {"reason": reason}
            )
        except Exception as exc:
            log.info("policy loop %s not woken (%s)", policy_id, type(exc).__name__)
