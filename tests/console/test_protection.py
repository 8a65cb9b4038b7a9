"""Protected backups in the console: a legal hold set and cleared by an admin, an immutable
backup, and deletions refused with the API's reason while the others go.

Azurite implements no legal holds or immutability policies, so the app's blobs go to the
local stand-in the storage tests use (tests/storage/blob_standin.py: the real SDK's
requests, answered as the REST reference says; not Azure) while its tables stay on
Azurite. The backups are seeded as records with their blobs in the stand-in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.models import AccessTier, BackupRecord, BackupStatus, Tier, Trigger
from tests.api.conftest import repositories
from tests.conftest import app_environment, azurite_connection_string
from tests.console.conftest import (
    Watched,
    add_database,
    axe_violations,
    call,
    go,
    open_page,
    running_product,
    screenshot,
)
from tests.storage.blob_standin import Blob, BlobStandIn, blob_standin


@pytest.fixture
def standin() -> Iterator[BlobStandIn]:
    with blob_standin() as running:
        yield running


@pytest.fixture
def protected_env(standin: BlobStandIn, table_prefix: str, blob_container: str) -> dict[str, str]:
    """Blobs in the stand-in, tables and queues on Azurite."""
    azurite = dict(
        part.split("=", 1) for part in azurite_connection_string().split(";") if "=" in part
    )
    connection = (
        standin.connection_string()
        + f"TableEndpoint={azurite['TableEndpoint']};QueueEndpoint={azurite['QueueEndpoint']};"
    )
    return app_environment(
        table_prefix, blob_container, BACKUP_STORAGE_CONNECTION_STRING=connection
    )


@pytest.fixture
async def product(protected_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Any]:
    async with running_product(tmp_path, protected_env) as emu:
        yield emu


def seed(env: dict[str, str], standin: BlobStandIn, database_id: str) -> dict[str, BackupRecord]:
    """Four succeeded backups with their blobs: one kept by an immutable monthly tier."""
    now = datetime.now(UTC)
    records = {}
    for index, name in enumerate(("held", "immutable", "plain-a", "plain-b")):
        at = now - timedelta(hours=index + 1)
        blob_name = f"pg-local/{database_id}/{name}.sql.zst.age"
        immutable = name == "immutable"
        record = BackupRecord(
            id=name, database_id=database_id, server_id="pg-local",
            status=BackupStatus.SUCCEEDED, trigger=Trigger.SCHEDULE, slot_time=at,
            tiers=[Tier.MONTHLY] if immutable else [Tier.DAILY], started_at=at,
            finished_at=at, created_at=at, raw_bytes=4096, stored_bytes=1024,
            sha256="ab" * 32, blob_name=blob_name, encryption="age", identity_id="k-seeded",
            access_tier=AccessTier.COOL if immutable else AccessTier.HOT,
            immutable_until=now + timedelta(days=60) if immutable else None,
        )  # fmt: skip
        repositories(env).backups.create(record)
        standin.blobs[blob_name] = Blob(
            blocks=[b"x" * 1024], metadata={}, tier="Cool" if immutable else "Hot",
            immutable_until=record.immutable_until, policy_mode="Locked" if immutable else None,
        )  # fmt: skip
        records[name] = record
    return records


async def test_an_admin_holds_a_backup_and_protected_ones_refuse_deletion(
    browser: Any, product: Any, protected_env: dict[str, str], standin: BlobStandIn
) -> None:
    database_id = await add_database(product, "protected_shop")
    records = seed(protected_env, standin, database_id)
    held, immutable = records["held"], records["immutable"]
    watched = Watched()
    page = await open_page(browser, watched)
    problems = {}

    await go(page, product.base_url, f"/backups?database_id={database_id}", "Backups")
    table = page.get_by_role("table", name="Backups, newest first")

    def row(record_id: str) -> Any:
        details = page.get_by_role("button", name=f"Details of backup {record_id}")
        return table.get_by_role("row").filter(has=details)

    shown = await row("immutable").inner_text()
    assert "cool" in shown and "immutable until" in shown and "age, key k-seeded" in shown

    # A legal hold, set from the backup's details: on the blob and on the record.
    await row("held").get_by_role("button", name="Details of backup held").click()
    details = page.get_by_role("dialog", name="Backup details")
    await details.get_by_role("button", name="Set legal hold").click()
    await details.get_by_text("Legal hold set.").wait_for()
    assert (await details.get_by_test_id("backup-legal-hold").inner_text()).startswith("yes")
    protected = details.get_by_test_id("backup-protected")
    assert "under a legal hold" in await protected.inner_text()
    assert await details.get_by_role("button", name="Delete backup").count() == 0
    assert standin.blobs[held.blob_name or ""].legal_hold is True
    if found := await axe_violations(page):
        problems["held backup"] = found
    await screenshot(page, "legal-hold")
    await page.keyboard.press("Escape")
    await row("held").get_by_text("legal hold").wait_for()

    # All four at once: the two protected ones are refused with the API's reason.
    await table.get_by_role("checkbox", name="Select all rows").check()
    await (
        page.get_by_role("region", name="Bulk actions")
        .get_by_role("button", name="Delete selected")
        .click()
    )
    confirm = page.get_by_role("dialog", name="Delete 4 backups?")
    assert "protected: under a legal hold" in await confirm.inner_text()
    await confirm.get_by_role("button", name="Delete for good").click()
    outcome = page.get_by_test_id("bulk-outcome")
    await outcome.get_by_text("2 backups deleted; 2 refused:").wait_for()
    text = await outcome.inner_text()
    assert "(held): the backup is under a legal hold: clear the hold first" in text
    assert re.search(r"\(immutable\): the backup is immutable until \d{4}-\d\d-\d\d", text)
    if found := await axe_violations(page):
        problems["refused deletions"] = found
    assert sorted(standin.blobs) == sorted([held.blob_name, immutable.blob_name])

    # The hold cleared, the backup can go; the immutable one says why it cannot.
    await row("held").get_by_role("button", name="Details of backup held").click()
    await details.get_by_role("button", name="Clear legal hold").click()
    await details.get_by_text("Legal hold cleared.").wait_for()
    assert standin.blobs[held.blob_name or ""].legal_hold is False
    await details.get_by_role("button", name="Delete backup").click()
    await details.get_by_role("button", name="Delete for good").click()
    await details.wait_for(state="hidden")
    await row("held").wait_for(state="detached")
    assert held.blob_name not in standin.blobs
    await row("immutable").get_by_role("button", name="Details of backup immutable").click()
    reason = await details.get_by_test_id("backup-protected").inner_text()
    assert "immutable until" in reason and "nobody can delete it before then" in reason

    listed = await call(product, "GET", "backups", params={"database_id": database_id})
    assert [item["id"] for item in listed.json()["items"]] == ["immutable"]
    audit = (await call(product, "GET", "audit", params={"page_size": "200"})).json()["items"]
    actions = [(entry["action"], entry["outcome"]) for entry in audit]
    assert ("backup.legal_hold.set", "succeeded") in actions
    assert ("backup.legal_hold.clear", "succeeded") in actions
    assert problems == {}, problems
    # The browser logs the two refusals (409) the test provoked, and nothing else.
    assert len(watched.errors) == 2, watched.errors
    assert all("status of 409" in error for error in watched.errors), watched.errors


async def test_a_key_protecting_an_immutable_backup_cannot_be_retired_from_the_console(
    browser: Any, product: Any, protected_env: dict[str, str], standin: BlobStandIn
) -> None:
    database_id = await add_database(product, "keyed_shop")
    immutable = seed(protected_env, standin, database_id)["immutable"]
    old = (await call(product, "POST", "keys/rotate")).json()["id"]  # the first key
    assert (await call(product, "POST", "keys/rotate")).status == 201
    backups = repositories(protected_env).backups
    backups.replace(immutable.model_copy(update={"identity_id": old}))
    watched = Watched()
    page = await open_page(browser, watched)

    await go(page, product.base_url, "/keys", "Encryption keys")
    keys = page.get_by_role("table", name="Encryption keys, newest first")
    await (
        keys.get_by_role("row")
        .filter(has_text=old)
        .get_by_role("button", name=f"Retire key {old}")
        .click()
    )
    retire = page.get_by_role("dialog", name=f"Retire key {old}")
    blocked = retire.get_by_test_id("retire-blocked")
    await blocked.get_by_text("cannot be retired now").wait_for()
    assert f"{database_id}/immutable: immutable until" in await blocked.inner_text()
    await retire.get_by_label(re.compile("^Type the key's id")).fill(old)
    assert await retire.get_by_role("button", name="Retire key for good").is_disabled()
    assert await axe_violations(page) == []
    assert watched.errors == [], watched.errors
