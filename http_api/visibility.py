"""What a caller below the admin role sees of a failure: the fixed sentence for its kind
(shared/public_errors.py). A failure's own text may hold the server's words, the caller's
egress address or a tool's stderr: it is for admins only, wherever it is shown (records,
the overview and calendar, job outputs)."""

from __future__ import annotations

from typing import Any

from http_api.calls import Call
from shared.auth import Role
from shared.jobs import DRILL_DATABASE, RESTORE_BACKUP, VERIFY_BACKUP
from shared.models import BackupRecord, DrillRecord, DrillStatus
from shared.public_errors import public_drill_error, public_error, public_read_error


def sees_raw_errors(call: Call) -> bool:
    return call.principal.may(Role.ADMIN)


def record_shown_to(call: Call, record: BackupRecord) -> BackupRecord:
    if record.error is None or sees_raw_errors(call):
        return record
    return record.model_copy(update={"error": public_error(record.error)})


def drill_shown_to(call: Call, record: DrillRecord) -> DrillRecord:
    """A drill's own sentences (skipped, interrupted, tables differ) pass; a failed
    restore's text is the tool's and the server's, so other roles see its class."""
    if record.error is None or sees_raw_errors(call):
        return record
    skipped = record.status is DrillStatus.SKIPPED
    return record.model_copy(update={"error": public_drill_error(record.error, skipped=skipped)})


def job_output_shown_to(call: Call, output: Any, failed: bool, name: str | None = None) -> Any:
    """A job's output: its `error` field, or the whole output of a job that failed with an
    exception (the runtime's output is then the exception's text). A drill's output is its
    drill record."""
    if sees_raw_errors(call):
        return output
    if name == DRILL_DATABASE and isinstance(output, dict) and output.get("error"):
        skipped = output.get("status") == DrillStatus.SKIPPED
        return {**output, "error": public_drill_error(str(output["error"]), skipped=skipped)}
    shown = _READ_JOBS.get(name or "")
    if isinstance(output, dict) and output.get("error"):
        raw = str(output["error"])
        return {**output, "error": public_read_error(raw, shown) if shown else public_error(raw)}
    if failed and isinstance(output, str):
        return public_read_error(output, shown) if shown else public_error(output)
    return output


# Jobs that read a backup back: their failures are a verify's or a restore's, not a backup's.
_READ_JOBS = {VERIFY_BACKUP: "verify", RESTORE_BACKUP: "restore"}
