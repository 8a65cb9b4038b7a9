"""Requests the API must answer with a clean 4xx, never a 500, and without echoing what was
sent: oversized bodies, odd Host headers, deeply nested JSON, a huge header."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from http_api.request_guard import MAX_BODY_BYTES
from tests.api.conftest import Api

ODD_HOSTS = [
    "[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]:7071", "127.0.0.1:99999", "127.0.0.1:abc",
    "::1", "]", "[", "[::1", "[fe80::1%25eth0]", "", "é.example", "localhost.", "a b",
]  # fmt: skip


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Sends bytes as they are (no client tidies the headers); the status and the body.
    Reads only the answer: a server may linger on a connection whose body it refused."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = answer.decode("latin-1").lower().split("\r\n")
        length = next((int(x[15:]) for x in lines if x.startswith("content-length:")), 0)
        content = await asyncio.wait_for(reader.readexactly(length), 30)
    finally:
        writer.close()
    return int(answer.split(b"\r\n")[0].split()[1]), content


async def test_a_body_over_the_api_limit_is_413_before_anything_else(api: Api) -> None:
    big = {"name": "x" * MAX_BODY_BYTES}
    for role in (None, "admin"):  # refused before the caller is even looked at
        response = await api.call("POST", "servers", role, json=big)
        assert response.status == 413, response.text
        assert response.json()["error"]["code"] == "body_too_large"
        assert "xxxx" not in response.text
    assert (await api.call("GET", "servers")).json()["items"] == []


async def test_the_host_refuses_a_body_over_its_limit_without_reading_it(dev: Any) -> None:
    # The `dev` host's limit is 4096 bytes: a declared 100 MB body is refused at once,
    # though not one byte of it was sent (the answer would otherwise wait for it).
    head = (
        b"POST /api/servers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\nConnection: close\r\n\r\n"
    )
    status, _ = await asyncio.wait_for(raw_request(dev.host.port, head), 10)
    assert status == 413
    # A chunked body has no length to check first: it is cut off once past the limit.
    chunk = b"x" * 3000
    chunked = (
        b"POST /api/servers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n"
    status, _ = await raw_request(dev.host.port, chunked, body)
    assert status == 413
    small = await dev.request("POST", "/api/servers", json={"name": "x"}, key=False)
    assert small.status == 422  # under the limit, the API answers as usual


@pytest.mark.parametrize("depth", [900, 100_000])
async def test_deeply_nested_json_is_a_clean_400_or_422(api: Api, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    for body in (nested, '{"name": ' + nested + "}"):
        response = await api.call("POST", "servers", data=body.encode())
        assert response.status in (400, 422), (depth, response.status, response.text[:200])
        assert set(response.json()["error"]) == {"code", "message", "details"}


async def test_odd_host_headers_are_never_a_server_error(api: Api, dev: Any) -> None:
    bearer = api.idp.token("admin").encode()
    for emulator, auth in ((api.emu, b"Authorization: Bearer " + bearer + b"\r\n"), (dev, b"")):
        for host in ODD_HOSTS:
            for method, path in (("GET", "/api/servers"), ("GET", "/api/health")):
                head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + auth
                status, _ = await raw_request(
                    emulator.host.port, head + b"Connection: close\r\n\r\n"
                )
                assert 200 <= status < 500, (host, path, status)


async def test_a_huge_header_is_refused_without_echo(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "Q7xZ" * 25_000  # 100 KB
    caplog.set_level(logging.DEBUG)
    head = (
        f"GET /api/servers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {marker}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    status, body = await raw_request(api.emu.host.port, head)
    assert 400 <= status < 500
    assert b"Q7xZ" not in body
    logged = "\n".join(
        record.getMessage() + str(record.exc_info or "") + (record.exc_text or "")
        for record in caplog.records
    )
    assert "Q7xZ" not in logged
    # A merely long token (under the header limit) is refused as a token, not echoed either.
    refused = await api.call("GET", "servers", token="Q7xZ" * 1000)
    assert refused.status == 401 and "Q7xZ" not in refused.text
    assert all("Q7xZ" not in record.getMessage() for record in caplog.records)


def test_the_openapi_document_describes_the_limits() -> None:
    from http_api.openapi import openapi_document

    document = json.dumps(openapi_document())
    assert str(MAX_BODY_BYTES) in document and "application/json" in document
