"""The few things the routes ask of the durable client: start, status, wake a policy loop."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.RpcManagementOptions import RpcManagementOptions

from http_api.calls import Reply
from http_api.schemas.common import JobAccepted, JobStatus
from orchestrators.policy_client import policy_changed
from shared.jobs import BACKGROUND, job_result

log = logging.getLogger(__name__)

# Statuses reported as running jobs.
ACTIVE = (df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending)
CONTINUATION = "x-ms-continuation-token"


async def instances_with_status(
    client: df.DurableOrchestrationClient, statuses: Iterable[df.OrchestrationRuntimeStatus]
) -> AsyncIterator[DurableOrchestrationStatus]:
    """Every instance with one of these statuses, page after page.

    The task hub answers a query one page at a time (at most 100 rows, sometimes fewer, even
    none) with an `x-ms-continuation-token` while more follow; the SDK's `get_status_by` reads
    the first page only, so it is not used. The query URL is the SDK's own, on the binding's
    RPC base URL (an SDK attribute: the 1.x client exposes no other way to it).
    """
    rpc_base_url = client._orchestration_bindings.rpc_base_url
    url = RpcManagementOptions(runtime_status=list(statuses)).to_url(rpc_base_url)
    token = ""
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url, headers={CONTINUATION: token} if token else {}) as reply:
                if reply.status != 200:
                    raise RuntimeError(f"the instance query answered {reply.status}")
                rows = await reply.json(content_type=None) or []
                token = reply.headers.get(CONTINUATION, "")
            for row in rows:
                yield DurableOrchestrationStatus.from_json(row)
            if not token:
                return


async def running_jobs(
    client: df.DurableOrchestrationClient, limit: int
) -> list[DurableOrchestrationStatus]:
    """Up to `limit` pending or running jobs (the service's own loops and checks are not
    jobs: shared.jobs.BACKGROUND), in every page."""
    found: list[DurableOrchestrationStatus] = []
    async with contextlib.aclosing(instances_with_status(client, ACTIVE)) as statuses:
        async for status in statuses:
            if status.instance_id and status.name not in BACKGROUND:
                found.append(status)
                if len(found) == limit:
                    break
    return found


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
    runtime = getattr(runtime, "value", runtime)
    output = getattr(status, "output", None)
    return JobStatus(
        instance_id=status.instance_id,
        name=getattr(status, "name", None),
        result=job_result(runtime, output),
        runtime_status=runtime,
        custom_status=getattr(status, "custom_status", None),
        output=output,
        created_time=getattr(status, "created_time", None),
        last_updated_time=getattr(status, "last_updated_time", None),
    )


async def wake_policy_loops(
    client: df.DurableOrchestrationClient, policy_ids: Iterable[str | None], reason: str
) -> None:
    """Wakes each policy's loop so it reloads what it schedules (starting it if it is not
    running). A failure here is not the caller's: the watchdog starts missing loops anyway."""
    for policy_id in sorted({pid for pid in policy_ids if pid}):
        try:
            await policy_changed(client, policy_id)
        except Exception as exc:
            log.warning(
                "policy loop %s not woken after %s (%s)", policy_id, reason, type(exc).__name__
            )
