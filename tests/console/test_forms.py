"""The server and policy forms in a real browser against the real product (development
mode: admin): each connection-test outcome shown with what to do next, the TLS modes
explained, the stored password asked for again when the user changes or TLS is lowered
(the API's 422 shown at the password), and a policy's immutable tiers, access tiers and
extra recipients edited, a bad recipient named at its field."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pyrage
import pytest

from tests.console.conftest import Watched, axe_violations, call, go, open_page, screenshot


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def server(product: Any, server_id: str, engine: str, port: int, **extra: Any) -> None:
    body = {
        "id": server_id, "name": server_id, "engine": engine, "host": "127.0.0.1",
        "port": port, "username": "root", "tls_mode": "disable", **extra,
    }  # fmt: skip
    created = await call(product, "POST", "servers", json=body)
    assert created.status == 201, created.text


async def run_connection_test(page: Any, base: str, server_id: str) -> tuple[str, str]:
    """Tests the server's connection from its page: (outcome, what the page says)."""
    await go(page, base, f"/servers/{server_id}", server_id)
    await page.get_by_role("button", name="Test connection").click()
    result = page.get_by_test_id("connection-test")
    await result.wait_for(timeout=30_000)
    return str(await result.get_attribute("data-outcome")), await result.inner_text()


async def test_connection_outcomes_and_the_server_form(
    browser: Any, product: Any, silent_port: int
) -> None:
    base = product.base_url
    watched = Watched()
    page = await open_page(browser, watched)
    problems = {}

    # A new server: TLS require by default, each mode explained as it is chosen.
    await go(page, base, "/servers", "Servers")
    await page.get_by_role("button", name="Add server").click()
    dialog = page.get_by_role("dialog")
    tls = dialog.get_by_label("TLS", exact=True)
    explanation = dialog.get_by_test_id("tls-explanation")
    assert await tls.input_value() == "require"
    assert "certificate is not checked" in await explanation.inner_text()
    for mode, words in (
        ("verify-full", "impostor on the network is refused"),
        ("prefer", "in the clear"),
        ("disable", "network you trust"),
        ("require", "safe from eavesdroppers"),
    ):
        await tls.select_option(mode)
        assert words in await explanation.inner_text(), mode
    await dialog.get_by_label("Name", exact=True).fill("pg-tls")
    await dialog.get_by_label("Id (optional)", exact=True).fill("pg-tls")
    await dialog.get_by_label("Host", exact=True).fill("127.0.0.1")
    await dialog.get_by_label("Username", exact=True).fill("postgres")
    await dialog.get_by_label("Password", exact=True).fill("entered-for-require")
    await dialog.get_by_role("button", name="Add server").click()
    await page.get_by_role("heading", level=1, name="pg-tls").wait_for()

    # The machine's PostgreSQL has no TLS: the test says so, and what to do.
    outcome, said = await run_connection_test(page, base, "pg-tls")
    assert outcome == "tls_required", said
    assert "TLS refused" in said and "The server refuses our TLS setting" in said

    # A new user, or a lower TLS mode, needs the password again: said, then refused at it.
    await page.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit pg-tls")
    password = dialog.get_by_label("Password", exact=True)
    await dialog.get_by_label("Username", exact=True).fill("someone_else")
    needed = dialog.get_by_test_id("password-needed")
    assert "you changed the username" in await needed.inner_text()
    await dialog.get_by_role("button", name="Save").click()
    await dialog.get_by_text("required when the host, port or username changes").wait_for()
    assert await password.get_attribute("aria-invalid") == "true"
    await dialog.get_by_label("Username", exact=True).fill("postgres")
    await dialog.get_by_label("TLS", exact=True).select_option("disable")
    assert "TLS is lowered from require to disable" in await needed.inner_text()
    await dialog.get_by_role("button", name="Save").click()
    await dialog.get_by_text("required when the host, port or username changes").wait_for()
    if found := await axe_violations(page):
        problems["server form refused"] = found
    await screenshot(page, "server-password-needed")
    await password.fill("entered-again-for-disable")
    assert await needed.count() == 0
    await dialog.get_by_role("button", name="Save").click()
    await dialog.wait_for(state="hidden")
    await page.get_by_text("TLS disable").wait_for()
    outcome, said = await run_connection_test(page, base, "pg-tls")
    assert outcome == "ok" and "connected" in said, said

    # Nothing listening; nothing answering; credentials refused (MariaDB checks them).
    await server(product, "nobody-home", "postgresql", free_port())
    await server(product, "silent", "postgresql", silent_port)
    await server(product, "maria", "mariadb", 3306, password="certainly-wrong")
    for server_id, expected, advice in (
        ("nobody-home", "unreachable", "Check the host and port"),
        ("silent", "timeout", "Nothing answered in time"),
        ("maria", "authentication_failed", "type the password again"),
    ):
        outcome, said = await run_connection_test(page, base, server_id)
        assert outcome == expected and advice in said, (server_id, said)
    if found := await axe_violations(page):
        problems["connection test"] = found
    assert problems == {}, problems
    # The browser logs the 422s the test provoked, and nothing else.
    assert all("status of 422" in error for error in watched.errors), watched.errors


async def test_a_policys_protection_and_recipients_are_edited(browser: Any, product: Any) -> None:
    watched = Watched()
    page = await open_page(browser, watched)
    await go(page, product.base_url, "/policies/development", "Development")
    form = page.get_by_role("form", name="Policy")
    await form.get_by_role("checkbox", name="Immutable daily backups").check()
    await form.get_by_role("checkbox", name="Immutable yearly backups").uncheck()
    await form.get_by_label("Access tier of weekly backups").select_option("cold")
    recipients = form.get_by_label("Extra encryption recipients")
    await recipients.fill("age1nope")
    await form.get_by_role("button", name="Save").click()
    await form.get_by_text(re.compile("not a valid age X25519 recipient")).wait_for()
    assert await recipients.get_attribute("aria-invalid") == "true"
    assert await axe_violations(page) == []
    await screenshot(page, "policy-recipient-refused")

    key = str(pyrage.x25519.Identity.generate().to_public())
    await recipients.fill(f"{key}\n")
    await form.get_by_role("button", name="Save").click()
    await form.get_by_role("status").get_by_text("Saved.").wait_for()
    assert await recipients.get_attribute("aria-invalid") is None
    policy = (await call(product, "GET", "policies/development")).json()
    assert "daily" in policy["immutable_tiers"] and "yearly" not in policy["immutable_tiers"]
    assert policy["access_tiers"]["weekly"] == "cold"
    assert policy["encryption_recipients"] == [key]

    await page.reload()
    await page.get_by_role("heading", level=1, name="Development").wait_for()
    assert await form.get_by_role("checkbox", name="Immutable daily backups").is_checked()
    assert await form.get_by_label("Access tier of weekly backups").input_value() == "cold"
    assert await recipients.input_value() == key
    assert all("status of 422" in error for error in watched.errors), watched.errors
