"""HTTP triggers through the emulator: routes, methods, request mapping and keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.testing import RunningEmulator, run_emulator
from tests.emulator.conftest import EMULATOR_APP


@pytest.mark.parametrize(
    ("path", "function", "route"),
    [
        ("/api/echo/42", "echo_int", {"id": "42"}),
        ("/api/echo/forty-two", "echo_name", {"name": "forty-two"}),
        ("/api/ECHO/7", "echo_int", {"id": "7"}),
        ("/api/files/a/b/c.txt", "files", {"path": "a/b/c.txt"}),
        ("/api/optional", "optional", {}),
        ("/api/optional/x", "optional", {"value": "x"}),
    ],
)
async def test_route_templates(
    emulator: RunningEmulator, path: str, function: str, route: dict[str, str]
) -> None:
    response = await emulator.request("GET", path, key=False)
    assert response.status == 200
    body = response.json()
    assert (body["function"], body["route"]) == (function, route)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/echo/42"),
        ("GET", "/api/nowhere"),
        ("GET", "/echo/42"),
        ("POST", "/api/echo/x"),
    ],
)
async def test_unmatched_requests_are_404(
    emulator: RunningEmulator, method: str, path: str
) -> None:
    assert (await emulator.request(method, path, key=False)).status == 404


async def test_request_is_mapped_to_http_request(emulator: RunningEmulator) -> None:
    response = await emulator.request(
        "POST", "/api/echo/5?a=1&b=two", data=b"payload", headers={"X-Test": "yes"}, key=False
    )
    body = response.json()
    assert body["method"] == "POST"
    assert body["params"] == {"a": "1", "b": "two"}
    assert body["body"] == "payload"
    assert body["header"] == "yes"
    assert body["url"] == f"{emulator.base_url}/api/echo/5?a=1&b=two"
    assert response.headers["Content-Type"].startswith("application/json")


async def test_a_failing_function_answers_500(emulator: RunningEmulator) -> None:
    response = await emulator.request("GET", "/api/boom", key=False)
    assert response.status == 500
    assert response.body == b""


async def test_root_answers_200(emulator: RunningEmulator) -> None:
    assert (await emulator.request("GET", "/", key=False)).status == 200


async def test_function_level_needs_a_function_or_master_key(emulator: RunningEmulator) -> None:
    path = "/api/secure/function"
    assert (await emulator.request("GET", path, key=False)).status == 401
    assert (await emulator.request("GET", path, key="wrong")).status == 401
    assert (await emulator.request("GET", path, key=emulator.system_key)).status == 401
    assert (await emulator.request("GET", path, key=emulator.function_key)).status == 200
    assert (await emulator.request("GET", path, key=emulator.master_key)).status == 200
    by_query = await emulator.request(
        "GET", path, params={"code": emulator.function_key}, key=False
    )
    assert (by_query.status, by_query.text) == (200, "function ok")


async def test_admin_level_needs_the_master_key(emulator: RunningEmulator) -> None:
    path = "/api/secure/admin"
    assert (await emulator.request("GET", path, key=emulator.function_key)).status == 401
    assert (await emulator.request("GET", path, key=emulator.master_key)).status == 200


async def test_keys_come_from_the_environment(tmp_path: Path) -> None:
    env = {"EMULATOR_FUNCTION_KEY": "fn-key-123", "EMULATOR_MASTER_KEY": "master-456"}
    async with run_emulator(EMULATOR_APP, tmp_path / "s.sqlite", env=env) as emu:
        assert (emu.function_key, emu.master_key) == ("fn-key-123", "master-456")
        ok = await emu.request("GET", "/api/secure/function", key="fn-key-123")
        assert ok.status == 200


async def test_client_function_gets_a_context(emulator: RunningEmulator) -> None:
    response = await emulator.request("POST", "/api/start/hello_chain")
    assert response.status == 202
    assert len(response.headers["x-invocation-id"]) == 36
