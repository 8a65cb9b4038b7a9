"""What a caller below the admin role sees of a failure: the fixed sentence for its kind
(shared/public_errors.py). A failure's own text may hold the server's words, the caller's
egress address or a tool's stderr: it is for admins only, wherever it is shown (records,
the overview and calendar, job outputs)."""

from __future__ import annotations

from typing import Any

from http_api.calls import Call
from shared.auth import Role
from shared.models import BackupRecord
from shared.public_errors import public_error


def sees_raw_errors(call: Call) -> bool:
    return call.principal.may(Role.ADMIN)


def record_shown_to(call: Call, record: BackupRecord) -> BackupRecord:
    if record.error is None or sees_raw_errors(call):
        return record
    return record.model_copy(update={"error": public_error(record.error)})


def job_output_shown_to(call: Call, output: Any, failed: bool) -> Any:
    """A job's output: its `error` field, or the whole output of a job that failed with an
    exception (the runtime's output is then the exception's text)."""
    if sees_raw_errors(call):
        return output
    if isinstance(output, dict) and output.get("error"):
        return {**output, "error": public_error(str(output["error"]))}
    if failed and isinstance(output, str):
        return public_error(output)
    return output
