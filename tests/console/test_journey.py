"""The console in a real browser against the real product (emulator, Azurite, PostgreSQL):
an operator's whole journey, every page checked with axe-core, the first load's size, and
a failing backup shown with its reason.

Development mode (everyone on loopback is admin); the reader's view is test_reader.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import ROOT, unique_name
from tests.console.conftest import (
    PG,
    Watched,
    axe_violations,
    go,
    keep_screenshot_for_docs,
    open_page,
    pg,
    screenshot,
)

BUDGET_BYTES = 350 * 1024
PAGES = [
    ("overview", "/", "Overview"),
    ("history", "/history", "History"),
    ("servers", "/servers", "Servers"),
    ("databases", "/databases", "Databases"),
    ("backups", "/backups", "Backups"),
    ("policies", "/policies", "Policies"),
    ("policy", "/policies/production-standard", "Production (standard)"),
    ("storage", "/storage", "Storage"),
    ("keys", "/keys", "Encryption keys"),
    ("audit", "/audit", "Audit"),
    ("system", "/system", "Settings & status"),
]


@pytest.fixture
def shop(postgres_database: str) -> Iterator[tuple[str, dict[str, int]]]:
    """A database with two schemas of rows; a restore of it must match them exactly."""
    with pg(postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 120) g")
        conn.execute("CREATE SCHEMA sales")
        conn.execute("CREATE TABLE sales.orders (id serial PRIMARY KEY, total numeric)")
        conn.execute(
            "INSERT INTO sales.orders (total) SELECT g * 1.5 FROM generate_series(1, 345) g"
        )
    restored = f"{postgres_database}_restored"
    yield postgres_database, {"customers": 120, "sales.orders": 345}
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


async def test_an_operator_backs_up_verifies_and_restores_from_the_console(
    browser: Any, product: Any, shop: tuple[str, dict[str, int]], record_property: Any
) -> None:
    database, tables = shop
    server_id = unique_name("pg-").replace("_", "-")
    base = product.base_url
    watched = Watched()
    page = await open_page(browser, watched)

    # First load: the overview, and the JavaScript it needed, compressed.
    await go(page, base, "/", "Overview")
    first_load = watched.script_bytes_gzipped()
    record_property("first_load_js_gzip_bytes", first_load)
    print(f"\nfirst load (development mode): {first_load / 1024:.1f} KiB of gzipped JavaScript")
    assert first_load <= BUDGET_BYTES, f"{first_load} bytes of JavaScript on first load"
    await page.get_by_text("No database is configured yet").wait_for()

    # A server, tested.
    await go(page, base, "/servers", "Servers")
    await page.get_by_role("button", name="Add server").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Name", exact=True).fill("Local PostgreSQL")
    await dialog.get_by_label("Id (optional)", exact=True).fill(server_id)
    await dialog.get_by_label("Host", exact=True).fill("127.0.0.1")
    await dialog.get_by_label("Username", exact=True).fill("postgres")
    await dialog.get_by_label("Password", exact=True).fill("not-checked-by-trust-auth")
    await dialog.get_by_label("TLS", exact=True).select_option("disable")
    await dialog.get_by_label("Default policy", exact=True).select_option("development")
    await dialog.get_by_role("button", name="Add server").click()
    await page.get_by_role("heading", level=1, name="Local PostgreSQL").wait_for()
    await page.get_by_role("button", name="Test connection").click()
    test_result = page.get_by_test_id("connection-test")
    await test_result.get_by_text("connected").wait_for()

    # Discover its databases, add ours.
    await page.get_by_role("button", name="Discover", exact=True).click()
    await page.get_by_label(database, exact=True).check()
    await page.get_by_role("button", name="Add 1 database").click()
    await page.get_by_role("status").filter(has_text="Added").wait_for()
    await page.get_by_role("link", name=database, exact=True).first.click()
    await page.get_by_role("heading", level=1, name=database).wait_for()
    database_id = page.url.rsplit("/", 1)[1]

    # Back it up now and watch the job until the backup is recorded as succeeded.
    started = time.monotonic()
    await page.get_by_role("button", name="Back up now").click()
    progress = page.get_by_test_id("job-progress")
    await progress.wait_for()
    phases = set()
    outcome = page.get_by_test_id("backup-outcome")
    while not await outcome.is_visible():
        phases.add(await progress.inner_text())
        await page.wait_for_timeout(100)
        assert time.monotonic() - started < 120, "the backup did not finish in two minutes"
    await outcome.get_by_text("succeeded").wait_for()
    elapsed = time.monotonic() - started
    record_property("backup_now_to_succeeded_seconds", round(elapsed, 2))
    print(f"'Back up now' to succeeded: {elapsed:.2f} s; seen: {sorted(phases)}")
    assert any("running" in text for text in phases), phases

    # The backup is in the history table and on the calendar as a manual backup.
    history = page.get_by_role("table", name="Backup history")
    await history.get_by_text("succeeded").first.wait_for()
    manual = page.get_by_role("list", name=f"Manual backups of {database}")
    await manual.locator("[data-status=succeeded]").first.wait_for()
    await screenshot(page, "database")

    # A restore drill of it: restored into a scratch database, compared, dropped, listed.
    await page.get_by_role("button", name="Drill now").click()
    drilled = page.get_by_test_id("drill-outcome")
    await drilled.wait_for(timeout=120_000)
    assert "Restored and compared in" in await drilled.inner_text()
    drills = page.get_by_role("table", name="Restore drills")
    await drills.get_by_text("succeeded").first.wait_for()

    # Verify it from the backups page, as a bulk action on the selected rows.
    await go(page, base, f"/backups?database_id={database_id}", "Backups")
    backups = page.get_by_role("table", name="Backups, newest first")
    await backups.get_by_role("checkbox", name="Select all rows").check()
    await (
        page.get_by_role("region", name="Bulk actions")
        .get_by_role("button", name="Verify selected")
        .click()
    )
    await page.get_by_test_id("verify-outcome").get_by_text("verified", exact=True).wait_for()

    # Restore it into a new database: zero differences, table by table.
    await backups.get_by_role("button", name=re.compile("^Restore backup")).first.click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Target database", exact=True).fill(f"{database}_restored")
    await dialog.get_by_role("button", name="Restore").click()
    restore = dialog.get_by_test_id("restore-outcome")
    await restore.wait_for(timeout=120_000)
    assert "matches the manifest" in await restore.inner_text()
    assert "0 differences" in await restore.inner_text()
    comparison = dialog.get_by_role("table")
    for table, rows in tables.items():
        row = comparison.get_by_role("row").filter(has_text=table)
        assert (await row.inner_text()).split("\t")[1:] == [str(rows), str(rows), "none"]
    await screenshot(page, "restore")
    await page.keyboard.press("Escape")
    with pg(f"{database}_restored", autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sales.orders").fetchone() == (345,)

    # A new policy: the next slots follow what is typed, a wrong field is named where it is.
    await go(page, base, "/policies/_new", "New policy")
    errors_before = len(watched.errors)
    form = page.get_by_role("form", name="Policy")
    await form.get_by_label("Name", exact=True).fill("Nightly in Madrid")
    await form.get_by_label("Time zone", exact=True).fill("Europe/Madrid")
    await form.get_by_role("checkbox", name="daily", exact=True).check()
    daily_time = form.get_by_label("At (HH:MM)", exact=True)
    await daily_time.fill("25:00")
    await form.get_by_text("time must be HH:MM (24-hour)").wait_for()
    assert await daily_time.get_attribute("aria-invalid") == "true"
    await daily_time.fill("01:30")
    preview = page.get_by_test_id("slot-preview")
    await preview.get_by_text("daily").first.wait_for()
    await page.wait_for_function(
        "() => !document.querySelector('[aria-invalid=true]')"
    )  # the field error went away with the preview's next answer
    # The browser logs the 422 we provoked; nothing else may have gone wrong meanwhile.
    provoked = watched.errors[errors_before:]
    assert provoked and all("status of 422" in error for error in provoked), provoked
    del watched.errors[errors_before:]
    await form.get_by_role("button", name="Create policy").click()
    await page.get_by_role("heading", level=1, name="Nightly in Madrid").wait_for()

    # Every action is in the audit log.
    await go(page, base, "/audit", "Audit")
    audit = page.get_by_role("table", name="Audit entries, newest first")
    for action in (
        "server.create", "server.test", "server.discover", "server.add_databases",
        "backup.start", "backup.verify", "backup.restore", "policy.create",
    ):  # fmt: skip
        await audit.get_by_role("cell", name=action, exact=True).first.wait_for()

    # Every page: no serious or critical accessibility violation; screenshots of each.
    problems = {}
    for name, path, heading in PAGES:
        await go(page, base, path, heading)
        await page.wait_for_timeout(300)  # charts draw after their data
        shot = await screenshot(page, name)
        if name == "overview":
            keep_screenshot_for_docs(shot, ROOT / "docs" / "console-overview.png")
        if found := await axe_violations(page):
            problems[name] = found
    await go(page, base, "/servers", "Servers")
    await page.get_by_role("button", name="Add server").click()
    if found := await axe_violations(page):
        problems["add-server dialog"] = found
    assert problems == {}, problems
    assert watched.errors == [], watched.errors  # no CSP violation, no script error


async def test_a_failing_backup_is_shown_failed_with_its_reason(browser: Any, product: Any) -> None:
    missing = unique_name("nothere_")
    for path, body in (
        ("servers", {"id": "pg-down", "name": "PostgreSQL", "engine": "postgresql",
                     "host": "127.0.0.1", "port": 5432, "username": "postgres",
                     "tls_mode": "disable"}),
        ("databases", {"id": "gone", "server_id": "pg-down", "name": missing}),
    ):  # fmt: skip
        created = await product.request("POST", f"/api/{path}", json=body, key=False)
        assert created.status == 201, created.text
    watched = Watched()
    page = await open_page(browser, watched)
    await go(page, product.base_url, "/databases/gone", missing)
    await page.get_by_role("button", name="Back up now").click()
    outcome = page.get_by_test_id("backup-outcome")
    await outcome.wait_for(timeout=60_000)
    text = await outcome.inner_text()
    assert "failed" in text and missing in text, text
    history = page.get_by_role("table", name="Backup history")
    await history.get_by_text("failed").first.wait_for()
    assert missing in await history.inner_text()
    await go(page, product.base_url, "/", "Overview")
    row = page.get_by_role("table", name="Databases, stale first").get_by_role("row").nth(1)
    assert "last run failed" in await row.inner_text()
    await screenshot(page, "failed-backup")
    assert watched.errors == [], watched.errors
