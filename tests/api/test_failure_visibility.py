"""A failed backup's own text is for admins (issue 10, section 6): readers and operators
see a fixed sentence for the kind of failure, never the server's words, the caller's
address or a tool's stderr."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.models import BackupRecord, BackupStatus, Trigger
from shared.public_errors import DETAILS, public_error, public_read_error
from tests.api.conftest import Api, name, repositories
from tests.api.test_backups import add_database, finished_job
from tests.api.test_status import server_srv_with_database_db

# (what was stored, what a reader sees before the DETAILS suffix)
CASES = [
    (
        'connection test failed (auth_failed): (1045, "Access denied for user '
        "'backup'@'203.0.113.9' (using password: YES)\")",
        "connection test failed: the server refused these credentials",
    ),
    (
        'connection test failed (unreachable): connection to server at "10.2.0.4", '
        "port 5432 failed: Connection refused",
        "connection test failed: the server could not be reached",
    ),
    (
        "backup failed, nothing was committed: pg_dump exited with code 1; stderr: pg_dump: "
        "error: query failed: ERROR:  permission denied for table payroll_2024",
        "the dump tool failed (exit code 1)",
    ),
    (
        "backup failed, nothing was committed: stopped: it exceeded its time limit",
        "the dump exceeded its time limit",
    ),
    (
        "Activity function 'dump_database' failed: something odd at /home/site/wwwroot",
        "the backup failed",
    ),
]


def test_every_raw_text_becomes_a_fixed_sentence() -> None:
    for raw, sentence in CASES:
        assert public_error(raw) == sentence + DETAILS
    assert public_error(None) is None
    assert public_error("connection test failed (no_such_kind): x") == (
        "connection test failed: the connection failed" + DETAILS
    )


@pytest.mark.asyncio
async def test_readers_and_operators_see_the_kind_admins_the_text(
    api: Api, api_env: dict[str, str]
) -> None:
    moment = datetime.now(UTC)
    raw = CASES[0][0]
    record = BackupRecord(
        id=name("r"), database_id="shop", server_id="prod", status=BackupStatus.FAILED,
        trigger=Trigger.MANUAL, started_at=moment, finished_at=moment, created_at=moment,
        error=raw,
    )  # fmt: skip
    repositories(api_env).backups.create(record)
    for role in ("reader", "operator", "admin"):
        one = await api.call("GET", f"backups/shop/{record.id}", role)
        listed = await api.call("GET", "backups", role, params={"database_id": "shop"})
        assert one.status == 200 and listed.status == 200
        errors = {one.json()["error"], listed.json()["items"][0]["error"]}
        if role == "admin":
            assert errors == {raw}
        else:
            assert errors == {public_error(raw)}
            for text in ("203.0.113.9", "backup'@", "Access denied", "1045"):
                assert text not in one.text and text not in listed.text


@pytest.mark.asyncio
async def test_a_failed_job_and_the_overview_show_readers_the_kind_admins_the_text(
    api: Api,
) -> None:
    database_id = await add_database(api, name("no_such_database_"))
    started = await api.call("POST", f"databases/{database_id}/backups", "operator")
    assert started.status == 202, started.text
    raw = (await finished_job(api, started.json(), "admin"))["output"]["error"]
    assert "does not exist" in raw  # the server's own words, for admins
    for role in ("reader", "operator"):
        job = await finished_job(api, started.json(), role)
        assert job["result"] == "failed"
        assert job["output"]["error"] == public_error(raw), role
        overview = await api.call("GET", "overview", role)
        [row] = [r for r in overview.json()["databases"] if r["database_id"] == database_id]
        assert row["last_error"] == public_error(raw), role
        assert "does not exist" not in json.dumps(job) + overview.text


@pytest.mark.asyncio
async def test_the_calendar_shows_readers_the_kind_admins_the_text(
    api: Api, api_env: dict[str, str]
) -> None:
    await server_srv_with_database_db(api)
    moment = datetime.now(UTC)
    raw = CASES[0][0]
    failed = BackupRecord(
        id=name("r"), database_id="db", server_id="srv", status=BackupStatus.FAILED,
        trigger=Trigger.MANUAL, started_at=moment, finished_at=moment, created_at=moment,
        error=raw,
    )  # fmt: skip
    repositories(api_env).backups.create(failed)
    for role in ("reader", "operator", "admin"):
        calendar = await api.call("GET", "calendar", role, params={"database_id": "db"})
        assert calendar.status == 200, calendar.text
        [cell] = calendar.json()["rows"][0]["manual"]
        assert cell["error"] == (raw if role == "admin" else public_error(raw)), role
        if role != "admin":
            assert "203.0.113.9" not in calendar.text


def test_a_failed_verify_or_restore_is_named_as_such_never_as_a_failed_backup() -> None:
    corrupt = "checksum mismatch: expected 3f2a…, read 9c1b… from 'srv/db/x.sql.zst.age'"
    assert public_read_error(corrupt, "verify") == (
        "the backup is corrupted: it does not match its checksum or does not decrypt" + DETAILS
    )
    raw = "restore failed: psql: error: connection to server at 10.0.0.7 refused"
    assert public_read_error(raw, "restore") == "the restore failed" + DETAILS
    assert public_read_error(None, "verify") is None
