"""Counts the test cases schemathesis ran, from its NDJSON event reports (`make fuzz`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cases_in(report: Path) -> int:
    total = 0
    for line in report.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished:
            total += len(finished.get("recorder", {}).get("cases") or {})
    return total


if __name__ == "__main__":
    print(sum(cases_in(Path(name)) for name in sys.argv[1:] if Path(name).is_file()))
