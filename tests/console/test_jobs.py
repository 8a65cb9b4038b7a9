"""Running jobs in the console: a backup held up by a lock the test takes (pg_dump waits
for it), watched live on the overview and cancelled there, then another cancelled from the
database page; both end `cancelled`, the dump really stops, and the history and calendar
say so. Against the real emulator, Azurite and PostgreSQL, in development mode (admin)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.console.conftest import (
    Watched,
    add_database,
    axe_violations,
    call,
    go,
    open_page,
    pg,
    screenshot,
)


@pytest.fixture
def locked(postgres_database: str) -> Iterator[tuple[str, psycopg.Connection]]:
    """A database whose one table the test holds locked (ACCESS EXCLUSIVE, in an open
    transaction): a pg_dump of it waits until the lock goes."""
    with pg(postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE held (id int PRIMARY KEY)")
        conn.execute("INSERT INTO held SELECT generate_series(1, 10)")
    holder = pg(postgres_database)
    holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
    try:
        yield postgres_database, holder
    finally:
        holder.rollback()
        holder.close()


def backends_waiting(database: str) -> int:
    """Sessions of our database waiting for a lock (the pg_dump we hold up). The server
    notices a client gone only when it next talks to it: a killed pg_dump's session waits
    on until the lock goes."""
    with pg("postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name = 'dilux-backup' AND wait_event_type = 'Lock'",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def dumps_running(database: str) -> int:
    """pg_dump processes of this machine dumping `database` (named in their environment)."""
    wanted = f"PGDATABASE={database}".encode()
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "pg_dump":
                continue
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                count += 1
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return count


async def until(check: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_a_running_backup_is_watched_and_cancelled_from_the_console(
    browser: Any, product: Any, locked: tuple[str, psycopg.Connection]
) -> None:
    database, _ = locked
    database_id = await add_database(product, database)
    base = product.base_url
    watched = Watched()
    page = await open_page(browser, watched)

    # Started from the database page, the backup waits for the lock: dumping, no bytes yet.
    await go(page, base, f"/databases/{database_id}", database)
    await page.get_by_role("button", name="Back up now").click()
    await until(lambda: backends_waiting(database) == 1, "pg_dump never waited for the lock")
    assert dumps_running(database) == 1

    # The overview lists it with its phase and an elapsed time that moves on its own.
    await go(page, base, "/", "Overview")
    running = page.get_by_role("table", name="Running jobs")
    row = running.get_by_role("row").filter(has_text=database_id)
    await row.get_by_role("cell", name="dumping", exact=True).wait_for()
    assert "Backup" in await row.inner_text()
    elapsed = row.get_by_test_id("job-elapsed")
    first = await elapsed.inner_text()
    for _ in range(50):
        await page.wait_for_timeout(200)
        if await elapsed.inner_text() != first:
            break
    assert await elapsed.inner_text() != first, "the elapsed time did not move"
    await screenshot(page, "running-jobs")

    # Cancelled from there, after a question; the job then says it was cancelled.
    await row.get_by_role("button", name=f"Cancel backup of {database_id}").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_text("The dump stops and nothing is stored").wait_for()
    assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Stop the job").click()
    stopped = page.get_by_test_id("job-progress").filter(has_text=f"Backup of {database_id}")
    await stopped.and_(page.locator("[data-state=cancelled]")).wait_for()
    assert "cancelled" in await stopped.inner_text()
    await (
        page.get_by_role("region", name="Running jobs")
        .get_by_text("Nothing is running.")
        .wait_for()
    )
    # The dump itself stopped (the record watch sees the cancel within seconds).
    await until(lambda: dumps_running(database) == 0, "pg_dump still runs after the cancel")

    # The history and the calendar show it cancelled.
    await go(page, base, f"/databases/{database_id}", database)
    history = page.get_by_role("table", name="Backup history")
    await history.get_by_text("cancelled").first.wait_for()
    manual = page.get_by_role("list", name=f"Manual backups of {database}")
    await manual.locator("[data-status=cancelled]").first.wait_for()

    # Another one, cancelled from the database page while it runs.
    await page.get_by_role("button", name="Back up now").click()
    progress = page.get_by_test_id("job-progress").filter(has_text="Backup")
    await progress.and_(page.locator("[data-state=running]")).first.wait_for()
    await until(lambda: dumps_running(database) == 1, "the second pg_dump never started")
    jobs_here = page.get_by_role("table", name=f"Jobs running on {database}")
    await jobs_here.get_by_role("cell", name="dumping", exact=True).wait_for()
    await progress.first.get_by_role("button", name="Cancel backup", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name="Stop the job").click()
    await progress.first.and_(page.locator("[data-state=cancelled]")).wait_for()
    assert "nothing was stored" in await progress.first.inner_text()
    await until(lambda: dumps_running(database) == 0, "the second pg_dump still runs")
    await (
        page.get_by_role("region", name="Running now").get_by_text("Nothing is running.").wait_for()
    )

    listed = await call(product, "GET", "backups", params={"database_id": database_id})
    statuses = [item["status"] for item in listed.json()["items"]]
    assert statuses == ["cancelled", "cancelled"], statuses
    audit = await call(product, "GET", "audit", params={"action": "job.cancel"})
    assert len(audit.json()["items"]) == 2
    assert watched.errors == [], watched.errors
