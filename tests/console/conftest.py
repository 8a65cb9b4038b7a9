"""Fixtures for the console's browser tests: Debian's Chromium driven by Playwright, the
product app in the emulator on Azurite (serving the built console at /), and helpers to
check every page with axe-core and to take screenshots.

The console must be built (`make test` does it: npm ci, then the build). Without a build
or without Chromium these tests skip on a developer's machine and fail in CI.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api.conftest import clean_caches, idp, signing_key  # noqa: F401 (shared fixtures)
from tests.conftest import ROOT, app_environment

CONSOLE = ROOT / "console"
DIST = CONSOLE / "dist" / "index.html"
AXE = CONSOLE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = CONSOLE / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a reader must never be offered: buttons and links that change something, by the
# start of their accessible name ("Verify backup b1" is a Verify button).
CHANGE_CONTROLS = (
    "Add server", "Edit", "Delete", "Remove", "Back up now", "Disable", "Enable", "Restore",
    "Verify", "Download", "Test connection", "Discover", "New policy", "Save", "Create policy",
    "Cancel", "Rotate", "Retire", "Set legal hold", "Clear legal hold", "Rehydrate",
)  # fmt: skip
CHANGE_CONTROL = re.compile("^(" + "|".join(re.escape(name) for name in CHANGE_CONTROLS) + r")\b")
PG = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
FINAL_RESULTS = ("succeeded", "failed", "cancelled")


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must have it: make test builds it)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def console_built() -> Path:
    if not DIST.exists():
        _missing("the console is not built: run `make test` or `npm run build` in console/")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM}: scripts/ensure-debian-tools.sh installs it")
    return DIST


@dataclass
class Watched:
    """What the browser reported while a test ran: errors, CSP violations, scripts loaded."""

    errors: list[str] = field(default_factory=list)
    scripts: dict[str, bytes] = field(default_factory=dict)

    def script_bytes_gzipped(self) -> int:
        return sum(len(gzip.compress(body, 9)) for body in self.scripts.values())


@pytest.fixture
async def browser(console_built: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Any, watched: Watched, **context_options: Any) -> Any:
    """A page in a fresh context that records errors, CSP violations and scripts."""
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, **context_options)
    page = await context.new_page()
    page.set_default_timeout(20_000)

    def on_console(message: Any) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    async def on_response(response: Any) -> None:
        if response.request.resource_type == "script" and response.ok:
            try:
                watched.scripts.setdefault(response.url, await response.body())
            except Exception as exc:  # a navigation may discard a body: say so, do not hide it
                watched.errors.append(f"script body of {response.url} unreadable: {exc}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
    page.on("response", on_response)
    return page


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not AXE.exists():
        _missing("axe-core is not installed: run `npm ci` in console/")
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated by the browser's debugging protocol, so the page's CSP does not block it
        await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        "async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
    )
    return [item for item in result if item["impact"] in ("serious", "critical")]


async def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def keep_screenshot_for_docs(source: Path, target: Path) -> None:
    """Refreshes the README's picture only when asked (UPDATE_DOCS_SCREENSHOT=1)."""
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(source, target)


def pg(database: str, **options: Any) -> psycopg.Connection:
    return psycopg.connect(PG.replace("dbname=postgres", f"dbname={database}"), **options)


@asynccontextmanager
async def running_product(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Any]:
    """The product app in the emulator, serving the built console at /."""
    from emulator.testing import run_emulator
    from tests.api.conftest import _reset_caches

    _reset_caches()
    try:
        async with run_emulator(ROOT, tmp_path / "state.sqlite", env=env) as emu:
            yield emu
    finally:
        _reset_caches()


@pytest.fixture
def product_env(table_prefix: str, blob_container: str) -> dict[str, str]:
    """Development mode (everyone on loopback is admin), on Azurite."""
    return app_environment(table_prefix, blob_container, DUMP_MAX_ATTEMPTS="1")


@pytest.fixture
async def product(product_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Any]:
    async with running_product(tmp_path, product_env) as emu:
        yield emu


async def go(page: Any, base: str, path: str, heading: str) -> None:
    await page.goto(base + path)
    await page.get_by_role("heading", level=1, name=heading).wait_for()
    await page.wait_for_load_state("networkidle")


async def call(product: Any, method: str, path: str, **options: Any) -> Any:
    """The API as the test itself calls it (development mode: no token; a change always
    says it is JSON, as the API requires)."""
    if method != "GET" and "json" not in options:
        options["json"] = {}
    return await product.request(method, f"/api/{path}", key=False, **options)


async def add_database(product: Any, database: str, server_id: str = "pg-local") -> str:
    """The machine's PostgreSQL as a server (no TLS: it has none) and `database` on it."""
    server = {
        "id": server_id, "name": "Local PostgreSQL", "engine": "postgresql",
        "host": "127.0.0.1", "port": 5432, "username": "postgres", "tls_mode": "disable",
    }  # fmt: skip
    if (await call(product, "GET", f"servers/{server_id}")).status == 404:
        created = await call(product, "POST", "servers", json=server)
        assert created.status == 201, created.text
    database_id = database.replace("_", "-")
    body = {"id": database_id, "server_id": server_id, "name": database}
    created = await call(product, "POST", "databases", json=body)
    assert created.status == 201, created.text
    return database_id


async def finished(product: Any, instance_id: str, seconds: float = 120) -> dict[str, Any]:
    """The job's status once its result is final."""
    for _ in range(int(seconds * 10)):
        job = (await call(product, "GET", f"jobs/{instance_id}")).json()
        if job["result"] in FINAL_RESULTS:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {instance_id} did not finish in {seconds} s")


async def backed_up(product: Any, database_id: str) -> dict[str, Any]:
    """A backup taken through the API; its record once it succeeded."""
    started = await call(product, "POST", f"databases/{database_id}/backups")
    assert started.status == 202, started.text
    job = await finished(product, started.json()["instance_id"])
    assert job["result"] == "succeeded", job
    record = await call(product, "GET", f"backups/{database_id}/{started.json()['record_id']}")
    return record.json()
