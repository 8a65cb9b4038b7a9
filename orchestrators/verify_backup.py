"""`verify_backup`: stream one stored backup back and check its SHA-256 and completion marker."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators import bp
from shared.jobs import RUN_VERIFY, VERIFY_BACKUP, VerifyJob, VerifyOutput, dump_json


@bp.orchestration_trigger(context_name="context", orchestration=VERIFY_BACKUP)
def verify_backup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = VerifyJob.model_validate(context.get_input())
    context.set_custom_status({"phase": "verifying", "backup_id": job.backup_id})
    job.instance_id = context.instance_id
    result = VerifyOutput.model_validate((yield context.call_activity(RUN_VERIFY, dump_json(job))))
    context.set_custom_status({"phase": "done", "backup_id": job.backup_id, "ok": result.ok})
    return dump_json(result)
