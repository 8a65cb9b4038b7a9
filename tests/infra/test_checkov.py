"""checkov, the checker Azure users already run, passes over the deploy template: 0 failed,
and every check deliberately not met is skipped in infra/.checkov.yaml with its reason.

checkov lives in a venv of its own (.tools/checkov, built by `make install` from
requirements-checkov.txt): its pins conflict with the project's test tools.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "azuredeploy.json"
CONFIG = ROOT / "infra" / ".checkov.yaml"
SKIP = re.compile(r"^\s*-\s*(CKV\w+)\s*(?:#\s*(.*))?$")


def checkov() -> str:
    found = os.environ.get("CHECKOV") or ROOT / ".tools" / "checkov" / "bin" / "checkov"
    if not Path(found).exists():
        found = shutil.which("checkov") or ""
    if not found:
        pytest.fail("checkov is not installed: `make install` builds .tools/checkov")
    return str(found)


def run_checkov(*options: str) -> dict[str, Any]:
    result = subprocess.run(
        [checkov(), "-f", str(TEMPLATE), "--quiet", "-o", "json", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["checkov_version"] == pinned_version()
    return report


def pinned_version() -> str:
    (line,) = [x for x in (ROOT / "requirements-checkov.txt").read_text().split("\n") if "==" in x]
    return line.split("==")[1].strip()


def skips() -> dict[str, str]:
    """The skipped check ids of infra/.checkov.yaml, each with the reason on its line."""
    found = {}
    for line in CONFIG.read_text().splitlines():
        match = SKIP.match(line)
        if match:
            found[match.group(1)] = (match.group(2) or "").strip()
    return found


def failed(report: dict[str, Any]) -> set[str]:
    return {check["check_id"] for check in report["results"]["failed_checks"]}


def test_every_skip_has_its_reason() -> None:
    assert skips(), "no skip found: is the config still read as this test expects?"
    for check_id, reason in skips().items():
        assert len(reason) >= 20, f"{check_id} is skipped without a reason"


def test_the_template_passes_checkov_with_only_the_explained_skips() -> None:
    with_config = run_checkov("--config-file", str(CONFIG))
    assert failed(with_config) == set()
    assert with_config["summary"]["passed"] >= 20
    # Without them, exactly the skipped checks fail: no skip is stale, none hides another.
    assert failed(run_checkov()) == set(skips())
