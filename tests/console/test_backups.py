"""Backups and keys in the console, against the real emulator, Azurite and PostgreSQL
(development mode: admin): the download link really downloads the backup (its SHA-256 is
the record's), an archived backup explains itself and is rehydrated from the console, the
encryption and storage of a backup are shown, several are deleted at once, and the
service's key is rotated, then the old one retired after its dry run and a typed
confirmation, which leaves its backup unverifiable."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from shared.storage.blobs import AzureBlobStore, BlobNotFound
from tests.console.conftest import (
    Watched,
    add_database,
    axe_violations,
    backed_up,
    call,
    go,
    open_page,
    pg,
    screenshot,
)


@pytest.fixture
def small(postgres_database: str) -> str:
    with pg(postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items (name) SELECT 'i' || g FROM generate_series(1, 500) g")
    return postgres_database


async def downloaded(page: Any, button: Any) -> bytes:
    """Clicks a Download button and returns the file the browser saved."""
    async with page.expect_download() as info:
        await button.click()
    download = await info.value
    assert await download.failure() is None
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def no_violations(page: Any, what: str, problems: dict[str, Any]) -> None:
    if found := await axe_violations(page):
        problems[what] = found


async def test_backups_download_rehydrate_delete_and_keys(
    browser: Any, product: Any, product_env: dict[str, str], small: str
) -> None:
    database_id = await add_database(product, small)
    older = [await backed_up(product, database_id) for _ in range(2)]
    newest = await backed_up(product, database_id)
    assert newest["encryption"] == "age" and newest["identity_id"]
    store = AzureBlobStore.from_connection_string(
        product_env["BACKUP_STORAGE_CONNECTION_STRING"], product_env["BACKUP_CONTAINER"]
    )
    watched = Watched()
    page = await open_page(browser, watched)
    base = product.base_url
    problems: dict[str, Any] = {}

    # The list says how each backup is stored: encrypted with age, to which key.
    await go(page, base, f"/backups?database_id={database_id}", "Backups")
    table = page.get_by_role("table", name="Backups, newest first")
    row = table.get_by_role("row").filter(
        has=page.get_by_role("button", name=f"Details of backup {newest['id']}")
    )
    assert f"age, key {newest['identity_id']}" in await row.inner_text()

    # The download link works: the file is the backup, byte for byte.
    download = row.get_by_role("button", name=f"Download backup {newest['id']}")
    body = await downloaded(page, download)
    assert hashlib.sha256(body).hexdigest() == newest["sha256"]
    link = page.get_by_test_id("download-link")
    assert await link.get_by_test_id("download-sha256").inner_text() == newest["sha256"]
    assert "age -d -i key.txt" in await link.inner_text()

    # Archived (by hand or a lifecycle rule): the API's explanation, then rehydration.
    store.set_access_tier(newest["blob_name"], "archive")
    await download.click()
    archived = page.get_by_test_id("archived-notice")
    await archived.wait_for()
    assert "Archive tier" in await archived.inner_text()
    await no_violations(page, "archived notice", problems)
    await archived.get_by_role("button", name="Rehydrate").click()
    await archived.get_by_text("rehydration to the Hot tier started").wait_for()
    body = await downloaded(page, download)  # Azurite rehydrates at once; Azure takes hours
    assert hashlib.sha256(body).hexdigest() == newest["sha256"]

    # Its details: encryption, access tier; a legal hold Azurite cannot keep is said plainly.
    await row.get_by_role("button", name=f"Details of backup {newest['id']}").click()
    details = page.get_by_role("dialog", name="Backup details")
    assert await details.get_by_test_id("backup-encryption").inner_text() == (
        f"age, key {newest['identity_id']}"
    )
    assert (await details.get_by_test_id("backup-access-tier").inner_text()).startswith("hot")
    await details.get_by_role("button", name="Set legal hold").click()
    refused = details.get_by_role("alert").filter(has_text="The legal hold was not changed")
    await refused.get_by_text(
        "Azurite implements no immutability policies or legal holds"
    ).wait_for()
    assert await details.get_by_test_id("backup-legal-hold").inner_text() == "no"
    await no_violations(page, "backup details", problems)
    await screenshot(page, "backup-details")
    await page.keyboard.press("Escape")

    # Two deleted at once (admins): asked first, then gone with their files.
    for record in older:
        await table.get_by_role("checkbox", name=f"Select {record['id']}").check()
    await (
        page.get_by_role("region", name="Bulk actions")
        .get_by_role("button", name="Delete selected")
        .click()
    )
    confirm = page.get_by_role("dialog", name="Delete 2 backups?")
    for record in older:
        await confirm.get_by_text(record["id"]).wait_for()
    await no_violations(page, "bulk delete", problems)
    await confirm.get_by_role("button", name="Delete for good").click()
    await page.get_by_test_id("bulk-outcome").get_by_text("2 backups deleted.").wait_for()
    await table.get_by_role("button", name=re.compile("^Details of backup")).first.wait_for()
    assert await table.get_by_role("button", name=re.compile("^Details of backup")).count() == 1
    for record in older:
        with pytest.raises(BlobNotFound):
            store.info(record["blob_name"])
    listed = await call(product, "GET", "backups", params={"database_id": database_id})
    assert [item["id"] for item in listed.json()["items"]] == [newest["id"]]

    # Keys: one, current; rotated (asked first), then the old one retired after its dry run.
    await go(page, base, "/keys", "Encryption keys")
    keys = page.get_by_role("table", name="Encryption keys, newest first")
    old_key = newest["identity_id"]
    await keys.get_by_role("row").filter(has_text=old_key).get_by_text("current").wait_for()
    await page.get_by_role("button", name="Rotate key").click()
    rotate = page.get_by_role("dialog", name="Rotate the encryption key?")
    await no_violations(page, "rotate dialog", problems)
    await rotate.get_by_role("button", name="Rotate", exact=True).click()
    new_key = await page.get_by_test_id("rotated").locator("code").inner_text()
    assert new_key != old_key
    await keys.get_by_role("row").filter(has_text=new_key).get_by_text("current").wait_for()
    old_row = keys.get_by_role("row").filter(has_text=old_key)
    await old_row.get_by_text("kept for old backups").wait_for()
    await old_row.get_by_role("button", name=f"Retire key {old_key}").click()
    retire = page.get_by_role("dialog", name=f"Retire key {old_key}")
    dry_run = retire.get_by_test_id("retire-dry-run")
    await dry_run.get_by_text("1 backup becomes unreadable").wait_for()
    assert "nobody can read it" in await dry_run.inner_text()
    await retire.get_by_role("cell", name=newest["id"], exact=True).wait_for()
    go_ahead = retire.get_by_role("button", name="Retire key for good")
    assert await go_ahead.is_disabled()
    confirm_id = retire.get_by_label(re.compile("^Type the key's id"))
    await confirm_id.fill(new_key)  # the wrong key's id
    assert await go_ahead.is_disabled()
    await no_violations(page, "retire dialog", problems)
    await screenshot(page, "retire-key")
    await confirm_id.fill(old_key)
    await go_ahead.click()
    await retire.get_by_test_id("retired").get_by_text("is retired").wait_for()
    await retire.get_by_role("button", name="Done").click()
    await old_row.get_by_text("retired", exact=True).wait_for()
    assert await old_row.get_by_role("button").count() == 0

    # Its backup can no longer be verified by the service: the console says why.
    await go(page, base, f"/backups?database_id={database_id}", "Backups")
    await page.get_by_role("button", name=f"Verify backup {newest['id']}").click()
    outcome = page.get_by_test_id("verify-outcome")
    await outcome.get_by_text("not verified").wait_for(timeout=60_000)
    assert f"key {old_key} was retired" in await outcome.inner_text()

    audit = (await call(product, "GET", "audit", params={"page_size": "200"})).json()["items"]
    actions = {(entry["action"], entry["outcome"]) for entry in audit}
    for action in ("key.rotate", "key.retire", "backup.rehydrate", "backup.delete"):
        assert (action, "succeeded") in actions, action
    assert any(action == "backup.legal_hold.set" and out != "succeeded" for action, out in actions)
    assert problems == {}, problems
    # The browser logs the refusals the test provoked (409 archived, 409 legal hold).
    assert all("status of 409" in error for error in watched.errors), watched.errors
