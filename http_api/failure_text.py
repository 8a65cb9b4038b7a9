"""A failure's own text outside the backup routes, as each role may see it.

The overview (`last_error`), the calendar (`error` of a cell) and a job's output (`error`)
carry a failure's own words too: a server's, a tool's stderr, the caller's address. As on
the backup routes (`http_api.backups.shown_to`), admins see them and the other roles the
fixed sentence of their kind (`shared.public_errors`).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from shared import jobs
from shared.auth import Principal, Role
from shared.public_errors import DETAILS, public_error

# A verify's or a restore's text may hold storage's or the target server's words; other
# jobs (those added later included) fall back to the last sentence.
_JOB_FAILED = {
    jobs.VERIFY_BACKUP: "the verification failed",
    jobs.RESTORE_BACKUP: "the restore failed",
}
_OTHER_JOB = "the job failed"


def error_for(principal: Principal, text: str | None) -> str | None:
    """A backup's failure text, or the fixed sentence of its kind below the admin role."""
    if text is None or principal.may(Role.ADMIN):
        return text
    return public_error(text)


def output_for(principal: Principal, job_name: str | None, runtime: str | None, output: Any) -> Any:
    """A job's output with its failure text shown as the caller's role may see it: the
    `error` of an output, or the whole output of a job that failed (the runtime's own
    account of an exception). A terminated job's output is the reason the API gave."""
    if principal.may(Role.ADMIN) or output is None:
        return output
    if isinstance(output, str):
        with contextlib.suppress(ValueError):
            output = json.loads(output)
    if isinstance(output, dict):
        return _with_public_error(job_name, output)
    if runtime == "Failed":
        return _public_job_error(job_name, str(output))
    return output


def _with_public_error(job_name: str | None, output: dict[str, Any]) -> dict[str, Any]:
    if not output.get("error"):
        return output
    return {**output, "error": _public_job_error(job_name, str(output["error"]))}


def _public_job_error(job_name: str | None, error: str) -> str:
    if job_name == jobs.BACKUP_DATABASE:
        return public_error(error) or ""
    return _JOB_FAILED.get(job_name or "", _OTHER_JOB) + DETAILS
