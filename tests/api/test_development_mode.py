"""Development mode (no token, every caller admin) stays on the developer's own machine: the
app refuses it off a loopback bind, and a page in the developer's browser cannot use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, app_environment

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (the bind under test; the emulator must refuse it)
SERVER = {
    "id": "victim", "name": "Victim", "engine": "postgresql", "host": "127.0.0.1",
    "port": 5432, "username": "postgres",
}  # fmt: skip


def test_the_emulator_refuses_to_start_in_development_mode_off_loopback(
    table_prefix: str, tmp_path: Path
) -> None:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("WEBSITE_")
    } | app_environment(table_prefix, "unused")
    command = [sys.executable, "-m", "emulator", "--app-dir", str(ROOT), "--host", ALL_INTERFACES]
    command += ["--port", "0", "--state", str(tmp_path / "state.sqlite")]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0, result.stderr[-2000:]
    assert "AUTH_MODE=development" in result.stderr and ALL_INTERFACES in result.stderr
    assert "Function key" not in result.stdout  # it never started serving


async def test_a_cross_site_simple_post_changes_nothing(dev: Any) -> None:
    # What a page on another site can make the developer's browser send without a CORS
    # preflight: a form or text/plain body, with its own Origin, to 127.0.0.1.
    body = json.dumps(SERVER)
    attempts = [
        {"Content-Type": "text/plain", "Origin": "http://evil.example"},
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
        {"Content-Type": "multipart/form-data; boundary=x", "Origin": "null"},
        {"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "text/plain"},  # a browser that sent no Origin
    ]
    for headers in attempts:
        response = await dev.request("POST", "/api/servers", data=body, headers=headers, key=False)
        assert response.status in (403, 415), (headers, response.status)
        assert response.json()["error"]["code"] in ("cross_origin", "unsupported_media_type")
    # A bodiless change (fetch with mode no-cors sends no Content-Type) is refused too.
    bodiless = await dev.request("DELETE", "/api/policies/development", key=False)
    assert bodiless.status == 415
    # JSON with a foreign Origin or site needs a preflight nothing answers; refused anyway.
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:1"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        response = await dev.request(
            "POST", "/api/servers", json=SERVER, headers=headers, key=False
        )
        assert response.status == 403, headers
    assert (await dev.request("GET", "/api/servers", key=False)).json()["items"] == []
    assert (await dev.request("GET", "/api/policies/development", key=False)).status == 200
    assert (await dev.request("GET", "/api/audit", key=False)).json()["items"] == []


async def test_dns_rebinding_gets_no_development_admin(dev: Any) -> None:
    # evil.example re-pointed at 127.0.0.1: same origin for the browser, but it sends its name.
    port = dev.host.port
    origin = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    response = await dev.request("POST", "/api/servers", json=SERVER, headers=origin, key=False)
    assert response.status == 401
    assert (await dev.request("GET", "/api/servers", key=False)).json()["items"] == []


async def test_forwarded_requests_get_no_development_admin(dev: Any) -> None:
    # A same-host forwarder (ssh -L, a reverse proxy) that says so is refused; the bind
    # check at start is what stops one that does not (the app never listens elsewhere).
    for header in ("X-Forwarded-For", "Forwarded", "X-Forwarded-Host"):
        response = await dev.request(
            "GET", "/api/servers", headers={header: "203.0.113.9"}, key=False
        )
        assert response.status == 401, header


async def test_a_same_origin_change_from_the_console_is_served(dev: Any) -> None:
    same_origin = {"Origin": dev.base_url, "Sec-Fetch-Site": "same-origin"}
    created = await dev.request("POST", "/api/servers", json=SERVER, headers=same_origin, key=False)
    assert created.status == 201, created.text
    plain = await dev.request(
        "DELETE", "/api/servers/victim", headers={"Content-Type": "application/json"}, key=False
    )
    assert plain.status == 204
