"""The console's API types are generated from the app's OpenAPI document: when a route or a
model changes and the types were not regenerated, this fails (the console and the API
cannot drift apart unnoticed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

GENERATOR = ROOT / "console" / "node_modules" / ".bin" / "openapi-typescript"


def test_console_api_types_match_the_openapi_document() -> None:
    if not GENERATOR.exists():
        if os.environ.get("CI"):
            pytest.fail("console/node_modules is missing (make test runs npm ci)")
        pytest.skip("console/node_modules is missing: run `npm ci` in console/")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "console_api_types.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
