"""What reaches Application Insights, read at a local stand-in of its ingestion endpoint:
the metric attributes and a job's log fields arrive as the envelopes' properties (which
App Insights stores as customDimensions), each exactly once, whether the app or the
Functions worker configured Azure Monitor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared import telemetry

ROOT = Path(__file__).resolve().parents[2]
JOB = {"instance_id": "manual-shop-1", "record_id": "r1", "database": "shop", "server": "pg"}
SHOP = {"engine": "postgresql", "database": "shop", "server": "pg"}


def exported(*args: str) -> list[dict[str, Any]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("APPLICATIONINSIGHTS_", "PYTHON_APPLICATIONINSIGHTS"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.telemetry.export_probe", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


def metrics_named(envelopes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        {"properties": e["properties"], **e["metrics"][0]}
        for e in envelopes
        if e["name"].endswith(".Metric") and e["metrics"][0]["name"] == name
    ]


@pytest.mark.parametrize("configured_by", ["app", "worker"])
def test_metrics_and_job_fields_arrive_once_as_custom_dimensions(configured_by: str) -> None:
    envelopes = exported(*(["worker"] if configured_by == "worker" else []))
    [backups] = metrics_named(envelopes, telemetry.BACKUPS)
    assert backups["properties"] == {**SHOP, "outcome": "succeeded"} and backups["value"] == 1
    [raw] = metrics_named(envelopes, telemetry.BACKUP_RAW_BYTES)
    assert raw["value"] == 1000 and raw["count"] == 1
    [stored] = metrics_named(envelopes, telemetry.BACKUP_STORED_BYTES)
    assert stored["value"] == 300
    [age] = metrics_named(envelopes, telemetry.BACKUP_AGE)
    assert age["properties"] == SHOP and age["value"] < 60
    [line] = [e for e in envelopes if e["name"].endswith(".Message")]
    assert line["message"] == "backup succeeded"
    assert {key: line["properties"].get(key) for key in JOB} == JOB
