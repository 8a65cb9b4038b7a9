"""The connection test is not a port scanner (issue 10, section 5): a few fixed outcomes
and no server text, its own small pool (other routes never wait for it), a cap per caller
and a short connect timeout."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from http_api.probes import PER_CALLER
from shared.engines.outcomes import MESSAGES, Outcome
from tests.api.conftest import Api, api_environment, name
from tests.impostors import MySqlImpostor, impostor

pytestmark = pytest.mark.asyncio

FIXED = {outcome.value for outcome in Outcome}
CONNECT_TIMEOUT = 4.0  # the app's setting here; a probe waits at most this
BANNER = b"SSH-2.0-OpenSSH_9.2p1 banner-secret-7f3a\r\n"


@pytest.fixture
def api_env(idp, table_prefix: str, blob_container: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return api_environment(
        table_prefix, blob_container, ENTRA_JWKS_URL=idp.url,
        CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT),
    )  # fmt: skip


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections (the kernel does) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
async def banner_port() -> AsyncIterator[int]:
    """Says a banner that is no database's, then waits."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def _server(api: Api, engine: str = "mariadb", port: int = 3306) -> str:
    body = {"name": "probe", "engine": engine, "host": "127.0.0.1", "port": port,
            "username": "root", "tls_mode": "disable"}  # fmt: skip
    created = await api.call("POST", "servers", json=body)
    assert created.status == 201, created.text
    return created.json()["id"]


def _probe(port: int, **extra: object) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": port, "username": "root", "password": "pw", **extra}


async def test_tests_of_a_silent_host_never_delay_other_routes(api: Api, silent_port: int) -> None:
    server_id = await _server(api)
    path = f"servers/{server_id}/test"
    # Twelve callers (a token each) and one caller sending twelve at once.
    callers = [api.idp.token("operator", oid=f"caller-{index}") for index in range(12)]
    probes = [api.call("POST", path, token=token, json=_probe(silent_port)) for token in callers]
    probes += [api.call("POST", path, "operator", json=_probe(silent_port)) for _ in range(12)]
    running = asyncio.gather(*probes)
    latencies = []
    started = time.monotonic()
    while not running.done():
        before = time.monotonic()
        answer = await api.call("GET", f"servers/{server_id}", "reader")
        assert answer.status == 200
        latencies.append(time.monotonic() - before)
        await asyncio.sleep(0.05)
    answers = await running
    elapsed = time.monotonic() - started

    assert elapsed >= CONNECT_TIMEOUT  # the probes did wait for the silent host
    assert len(latencies) > 10 and max(latencies) < CONNECT_TIMEOUT / 4, latencies
    statuses = sorted(answer.status for answer in answers)
    limited = [answer for answer in answers if answer.status == 429]
    assert len(limited) == 12 - PER_CALLER, statuses  # the one greedy caller was capped
    for answer in answers:
        if answer.status == 200:
            assert answer.json()["outcome"] == "timeout", answer.text
            assert answer.json()["message"] == MESSAGES[Outcome.TIMEOUT]


async def test_outcomes_are_fixed_and_never_echo_the_server(
    api: Api, silent_port: int, banner_port: int
) -> None:
    mariadb = await _server(api)
    postgres = await _server(api, "postgresql", 5432)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    role = "nosuchrole" + name()
    with impostor(MySqlImpostor) as fake:
        cases = [
            (mariadb, _probe(closed_port), "unreachable"),
            (mariadb, _probe(silent_port), "timeout"),
            (mariadb, _probe(banner_port), "other"),
            # Asked for the password in clear text without TLS: refused.
            (mariadb, _probe(fake.port, tls_mode="disable"), "tls_required"),
            (mariadb, _probe(fake.port, tls_mode="require"), "tls_required"),
            (mariadb, _probe(3306), "authentication_failed"),
            (postgres, {**_probe(5432), "username": role}, "authentication_failed"),
            (postgres, _probe(5432, username="postgres"), "ok"),
        ]
        answers = await asyncio.gather(
            *(
                api.call(
                    "POST",
                    f"servers/{sid}/test",
                    token=api.idp.token("operator", oid=f"o{i}"),
                    json=body,
                )
                for i, (sid, body, _) in enumerate(cases)
            )
        )
    for (_, body, expected), answer in zip(cases, answers, strict=True):
        assert answer.status == 200, answer.text
        result = answer.json()
        assert result["outcome"] in FIXED and result["outcome"] == expected, (body, result)
        assert result["message"] == MESSAGES[Outcome(expected)]
        for text in ("banner", "SSH", "impostor", role, "does not exist", "Access denied", "root@"):
            assert text not in answer.text
    assert answers[-1].json()["ok"] is True and answers[-1].json()["server_version"]


async def test_discovery_failures_are_fixed_outcomes_too(api: Api, banner_port: int) -> None:
    server_id = await _server(api, port=banner_port)
    found = await api.call("GET", f"servers/{server_id}/discover", "operator")
    assert found.status == 409
    assert found.json()["error"] == {
        "code": "connection_other", "message": MESSAGES[Outcome.OTHER], "details": None,
    }  # fmt: skip
