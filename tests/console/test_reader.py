"""A reader signs in with Entra ID (MSAL's code flow with PKCE, against a stand-in authority)
and sees everything, but no button they cannot use; the audit page is not theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.models import AccessTier, BackupRecord, BackupStatus, Tier, Trigger
from shared.public_errors import public_error
from tests.api.conftest import IdentityProvider, api_environment, repositories
from tests.conftest import ROOT
from tests.console.conftest import CHANGE_CONTROL, Watched, axe_violations, open_page, screenshot
from tests.console.identity import CLIENT_ID, Authority, serve_authority

BUDGET_BYTES = 350 * 1024
# A failure's own text (a server's words, an address): for admins only.
RAW_ERROR = (
    'connection test failed (auth_failed): (1045, "Access denied for user '
    "'backup'@'203.0.113.9' (using password: YES)\")"
)
READER_PAGES = [
    ("/", "Overview"),
    ("/history", "History"),
    ("/servers", "Servers"),
    ("/servers/pg-main", "Main PostgreSQL"),
    ("/databases", "Databases"),
    ("/databases/shop", "shop"),
    ("/backups", "Backups"),
    ("/policies", "Policies"),
    ("/policies/development", "Development"),
    ("/storage", "Storage"),
    ("/keys", "Encryption keys"),
    ("/system", "Settings & status"),
]


@pytest.fixture
async def authority(idp: IdentityProvider, tmp_path: Path) -> AsyncIterator[Authority]:
    async with serve_authority(idp, tmp_path, "reader") as running:
        yield running


@pytest.fixture
async def product(
    idp: IdentityProvider, authority: Authority, table_prefix: str, blob_container: str,
    tmp_path: Path, clean_caches: None,
) -> AsyncIterator[Any]:  # fmt: skip
    from emulator.testing import run_emulator

    env = api_environment(
        table_prefix, blob_container, ENTRA_JWKS_URL=idp.url,
        ENTRA_CONSOLE_CLIENT_ID=CLIENT_ID, ENTRA_AUTHORITY=authority.url,
    )  # fmt: skip
    async with run_emulator(ROOT, tmp_path / "state.sqlite", env=env) as emu:
        admin = {"Authorization": f"Bearer {idp.token('admin')}"}
        for path, body in (
            ("servers", {"id": "pg-main", "name": "Main PostgreSQL", "engine": "postgresql",
                         "host": "127.0.0.1", "port": 5432, "username": "postgres",
                         "tls_mode": "disable", "default_policy_id": "development"}),
            ("databases", {"id": "shop", "server_id": "pg-main", "name": "shop"}),
        ):  # fmt: skip
            created = await emu.request("POST", f"/api/{path}", json=body, headers=admin, key=False)
            assert created.status == 201, created.text
        at = datetime.now(UTC) - timedelta(hours=3)
        record = BackupRecord(
            id="b1", database_id="shop", server_id="pg-main", status=BackupStatus.SUCCEEDED,
            tiers=[Tier.MONTHLY], trigger=Trigger.SCHEDULE, slot_time=at, started_at=at,
            finished_at=at, created_at=at, stored_bytes=2048, raw_bytes=8192,
            blob_name="pg-main/shop/b1.sql.zst.age", sha256="0" * 64, encryption="age",
            identity_id="k1", access_tier=AccessTier.COOL, legal_hold=True,
            immutable_until=at + timedelta(days=365),
        )  # fmt: skip
        repositories(env).backups.create(record)
        failed = BackupRecord(
            id="f1", database_id="shop", server_id="pg-main", status=BackupStatus.FAILED,
            trigger=Trigger.MANUAL, started_at=at, finished_at=at, created_at=at,
            error=RAW_ERROR,
        )  # fmt: skip
        repositories(env).backups.create(failed)
        yield emu


async def test_a_reader_signs_in_and_is_offered_no_change(
    browser: Any, product: Any, authority: Authority, record_property: Any
) -> None:
    watched = Watched()
    page = await open_page(browser, watched, ignore_https_errors=True)
    base = product.base_url

    await page.goto(base + "/")
    sign_in = page.get_by_role("button", name="Sign in")
    await sign_in.wait_for()
    assert await axe_violations(page) == []
    await sign_in.click()
    await page.get_by_role("heading", level=1, name="Overview").wait_for()
    await page.wait_for_load_state("networkidle")
    assert authority.exchanged, "the console never redeemed a code at the authority"
    assert "api://dilux-backup-tests/.default" in authority.exchanged[0]
    banner = await page.locator(".topbar").inner_text()
    assert "reader@example.test" in banner and "Reader" in banner

    first_load = watched.script_bytes_gzipped()
    record_property("first_load_js_gzip_bytes_entra", first_load)
    print(f"\nfirst load (Entra sign-in, MSAL included): {first_load / 1024:.1f} KiB gzipped")
    assert first_load <= BUDGET_BYTES

    navigation = await page.get_by_role("navigation", name="Main").inner_text()
    assert "Audit" not in navigation and "Backups" in navigation
    problems = {}
    for path, heading in READER_PAGES:
        await page.goto(base + path)
        await page.get_by_role("heading", level=1, name=heading).wait_for()
        await page.wait_for_load_state("networkidle")
        offered = [
            *await page.get_by_role("button", name=CHANGE_CONTROL).all_inner_texts(),
            *await page.get_by_role("link", name=CHANGE_CONTROL).all_inner_texts(),
        ]
        assert offered == [], (path, offered)
        assert "203.0.113.9" not in await page.content(), path
        assert await page.get_by_role("checkbox").count() == 0 or path.startswith("/policies/")
        assert await page.get_by_role("alert").count() == 0, (path, await page.content())
        if found := await axe_violations(page):
            problems[path] = found
        if path == "/backups":
            await page.get_by_role("cell", name="shop", exact=True).first.wait_for()
            held = await page.get_by_role("row").filter(has_text="legal hold").inner_text()
            assert "cool" in held and "immutable until" in held and "age, key k1" in held
            reason = public_error(RAW_ERROR) or ""
            await page.get_by_role("cell", name=reason, exact=True).wait_for()
            await screenshot(page, "reader-backups")
            await page.get_by_role("button", name="Details of backup b1").click()
            details = page.get_by_role("dialog", name="Backup details")
            assert (await details.get_by_test_id("backup-legal-hold").inner_text()).startswith(
                "yes"
            )
            assert await details.get_by_role("button").count() == 1  # only its Close button
            await details.get_by_role("button", name="Close").wait_for()
            if found := await axe_violations(page):
                problems["backup details"] = found
            await page.keyboard.press("Escape")
    assert problems == {}, problems
    inputs = page.get_by_role("textbox")
    assert all([await inputs.nth(i).is_disabled() for i in range(await inputs.count())])

    await page.goto(base + "/audit")
    await page.get_by_text("The audit log is for admins").wait_for()
    assert watched.errors == [], watched.errors
