"""One field a script can test (shared/jobs.job_result): a failed backup is `Completed`."""

from __future__ import annotations

import json

import pytest

from shared.jobs import JobResult, job_result


@pytest.mark.parametrize(
    ("runtime", "output", "result"),
    [
        ("Pending", None, JobResult.RUNNING),
        ("Running", None, JobResult.RUNNING),
        ("Suspended", None, JobResult.RUNNING),
        ("ContinuedAsNew", None, JobResult.RUNNING),
        (None, None, JobResult.RUNNING),
        ("Completed", {"status": "succeeded", "record_id": "r"}, JobResult.SUCCEEDED),
        ("Completed", {"status": "failed", "error": "permission denied"}, JobResult.FAILED),
        ("Completed", {"status": "cancelled"}, JobResult.CANCELLED),
        ("Completed", json.dumps({"status": "failed"}), JobResult.FAILED),
        ("Completed", {"ok": True, "differences": []}, JobResult.SUCCEEDED),
        ("Completed", {"ok": False, "differences": ["t: 1 row"]}, JobResult.FAILED),
        ("Completed", {"policy_id": "p", "stopped_because": "policy deleted"}, JobResult.SUCCEEDED),
        ("Completed", None, JobResult.SUCCEEDED),
        ("Failed", "Orchestrator function 'backup_database' failed: boom", JobResult.FAILED),
        ("Terminated", "cancelled through the API", JobResult.CANCELLED),
        ("Canceled", None, JobResult.CANCELLED),
    ],
)
def test_the_result_says_what_the_job_came_to(runtime: str, output: object, result: str) -> None:
    assert job_result(runtime, output) is result
