"""The routes the console draws from: its sign-in settings, the caller, overview, calendar,
storage, running jobs, the policy preview and the system report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.engines.outcomes import MESSAGES, Outcome
from shared.models import BackupRecord, BackupStatus, Tier, Trigger
from tests.api.conftest import AUDIENCE, TENANT, Api, repositories
from tests.api.test_status import record, server_srv_with_database_db


def scheduled(at: datetime, status: BackupStatus, record_id: str) -> BackupRecord:
    """A record of the daily slot at `at` (the development policy's daily time is 03:00)."""
    succeeded = status is BackupStatus.SUCCEEDED
    return BackupRecord(
        id=record_id, database_id="db", server_id="srv", status=status, tiers=[Tier.DAILY],
        trigger=Trigger.SCHEDULE, slot_time=at, started_at=at, finished_at=at, created_at=at,
        stored_bytes=1000 if succeeded else None, blob_name=f"b/{record_id}" if succeeded else None,
        error=None if succeeded else "connection test failed (auth_failed): no",
    )  # fmt: skip


async def test_console_config_is_anonymous_and_public(api: Api) -> None:
    response = await api.call("GET", "console-config", None, key=False)
    assert response.status == 200, response.text
    config = response.json()
    # entra mode without a console client id: sign-in is not ready, nothing secret is said
    assert config["auth_mode"] == "entra" and config["sign_in_ready"] is False
    assert config["tenant_id"] == TENANT and config["scopes"] == [f"{AUDIENCE}/.default"]


async def test_me_names_the_role_of_the_token(api: Api) -> None:
    for role, claim in (("reader", "Backup.Reader"), ("admin", "Backup.Admin")):
        me = await api.call("GET", "me", role)
        assert me.status == 200, me.text
        assert me.json() == {
            "subject": f"oid-{role}", "name": f"{role}@example.test", "role": claim,
            "auth_mode": "entra",
        }  # fmt: skip
    assert (await api.call("GET", "me", None)).status == 401


async def test_overview_lists_stale_databases_first_with_rates_and_tiers(
    api: Api, api_env: dict[str, str]
) -> None:
    await server_srv_with_database_db(api)
    await api.call("POST", "databases", json={"id": "fresh", "server_id": "srv", "name": "f"})
    repos = repositories(api_env)
    repos.backups.create(record("db", "srv", BackupStatus.SUCCEEDED, timedelta(days=3)))
    repos.backups.create(record("db", "srv", BackupStatus.FAILED, timedelta(hours=2)))
    ok = record("fresh", "srv", BackupStatus.SUCCEEDED, timedelta(hours=1))
    repos.backups.create(ok.model_copy(update={"tiers": [Tier.DAILY, Tier.WEEKLY]}))

    response = await api.call("GET", "overview", "reader")
    assert response.status == 200, response.text
    overview = response.json()
    first, second = overview["databases"]
    assert (first["database_id"], first["stale"], second["database_id"], second["stale"]) == (
        "db", True, "fresh", False,
    )  # fmt: skip
    assert first["last_status"] == "failed" and first["last_24h"] == {"succeeded": 0, "failed": 1}
    assert first["last_7d"] == {"succeeded": 1, "failed": 1}
    assert 71 < first["age_hours"] < 73 and first["allowed_hours"] == 25.0
    assert first["next_slot"]["tiers"] and first["policy_id"] == "development"
    # the two-tier backup counts under its longest-kept tier only
    assert {t["tier"]: t["stored_bytes"] for t in overview["storage_by_tier"]} == {
        "weekly": 100, "daily": 100,
    }  # fmt: skip
    assert overview["next_slots"][0]["database_ids"] == ["db", "fresh"]


async def test_calendar_marks_each_slot(api: Api, api_env: dict[str, str]) -> None:
    await server_srv_with_database_db(api)
    repos = repositories(api_env)
    policy = (await api.call("GET", "policies/development")).json()
    slots = (
        await api.call(
            "GET", "policies/development/next-slots",
            params={"after": (datetime.now(UTC) - timedelta(days=3)).isoformat(), "count": "3"},
        )
    ).json()["slots"]  # fmt: skip
    assert policy["daily"] and len(slots) == 3
    past = [datetime.fromisoformat(slot["at"]) for slot in slots]
    past = [at for at in past if at < datetime.now(UTC) - timedelta(hours=1)]
    assert len(past) >= 2
    repos.backups.create(scheduled(past[0], BackupStatus.SUCCEEDED, "ok1"))
    repos.backups.create(scheduled(past[1], BackupStatus.FAILED, "bad1"))
    # the database must be older than the slots to have missed any: backdate it
    database = repos.databases.get("db")
    assert database is not None
    earlier = datetime.now(UTC) - timedelta(days=10)
    repos.databases.upsert(database.model_copy(update={"created_at": earlier}))

    response = await api.call(
        "GET", "calendar", "reader",
        params={"database_id": "db", "from": (past[0] - timedelta(days=2)).isoformat()},
    )  # fmt: skip
    assert response.status == 200, response.text
    [row] = response.json()["rows"]
    by_time = {datetime.fromisoformat(cell["at"]): cell for cell in row["slots"]}
    assert by_time[past[0]]["status"] == "succeeded" and by_time[past[0]]["backup_id"] == "ok1"
    assert by_time[past[1]]["status"] == "failed"
    assert by_time[past[1]]["error"].startswith("connection test failed")
    statuses = {cell["status"] for cell in row["slots"]}
    assert "missed" in statuses and "upcoming" in statuses
    bad = await api.call("GET", "calendar", params={"from": "2024-01-02", "to": "2024-01-01"})
    assert bad.status == 422


async def test_calendar_shows_a_cancelled_backup(api: Api, api_env: dict[str, str]) -> None:
    """A backup cancelled through the API is a cell of its own (it once made the calendar
    answer 500: the cell's statuses did not include it)."""
    await server_srv_with_database_db(api)
    at = datetime.now(UTC) - timedelta(hours=1)
    cancelled = BackupRecord(
        id="stopped", database_id="db", server_id="srv", status=BackupStatus.CANCELLED,
        trigger=Trigger.MANUAL, started_at=at, finished_at=at, created_at=at,
        error="cancelled through the API",
    )  # fmt: skip
    repositories(api_env).backups.create(cancelled)
    response = await api.call("GET", "calendar", "reader", params={"database_id": "db"})
    assert response.status == 200, response.text
    [cell] = response.json()["rows"][0]["manual"]
    assert (cell["status"], cell["backup_id"], cell["error"]) == ("cancelled", "stopped", None)


async def test_storage_by_database_tier_time_and_what_retention_frees(
    api: Api, api_env: dict[str, str]
) -> None:
    await server_srv_with_database_db(api)
    repos = repositories(api_env)
    now = datetime.now(UTC)
    # development keeps 7 daily backups: the 8th oldest will be freed
    for day in range(1, 9):
        at = now - timedelta(days=day, hours=1)
        repos.backups.create(scheduled(at, BackupStatus.SUCCEEDED, f"d{day}"))
    expired = scheduled(now - timedelta(days=20), BackupStatus.EXPIRED, "gone")
    repos.backups.create(expired.model_copy(update={"stored_bytes": 5000, "blob_name": None}))

    response = await api.call("GET", "storage", "reader", params={"days": "30"})
    assert response.status == 200, response.text
    report = response.json()
    assert (report["stored_bytes"], report["backups"]) == (8000, 8)
    assert report["by_database"] == [{"database_id": "db", "backups": 8, "stored_bytes": 8000}]
    assert report["by_tier"] == [{"tier": "daily", "backups": 8, "stored_bytes": 8000}]
    assert report["retention_frees"] == [{"database_id": "db", "backups": 1, "stored_bytes": 1000}]
    series = report["over_time"]
    assert len(series) == 30 and series[-1]["stored_bytes"] == 8000
    # 21 days ago the expired backup was held (it expired when its record was last written,
    # i.e. now), the daily ones did not exist yet
    assert series[-22]["stored_bytes"] == 0 and series[-20]["stored_bytes"] == 5000


async def test_jobs_lists_a_running_backup_with_its_phase(api: Api) -> None:
    await server_srv_with_database_db(api)
    started = await api.call("POST", "databases/db/backups", "operator")
    assert started.status == 202, started.text
    instance_id = started.json()["instance_id"]
    listed = await api.call("GET", "jobs", "reader")
    assert listed.status == 200, listed.text
    jobs = {job["instance_id"]: job for job in listed.json()["items"]}
    if instance_id in jobs:  # it may already have finished (a failed connection is quick)
        job = jobs[instance_id]
        assert (job["kind"], job["database_id"]) == ("backup", "db")
    await api.emu.wait_for_instance(instance_id, 60)
    after = (await api.call("GET", "jobs", "reader")).json()["items"]
    assert instance_id not in {job["instance_id"] for job in after}


def test_a_job_shows_its_phase_from_the_custom_status() -> None:
    from types import SimpleNamespace

    from http_api.job_list import progress

    status = SimpleNamespace(
        instance_id="manual-db-0123456789ab", name="backup_database", runtime_status="Running",
        custom_status={"phase": "dumping", "record_id": "r1"}, created_time=None,
        last_updated_time=None,
    )  # fmt: skip
    job = progress(status)
    assert (job.kind, job.database_id, job.phase, job.record_id) == (
        "backup",
        "db",
        "dumping",
        "r1",
    )


@pytest.mark.parametrize(
    ("instance_id", "backup_id", "database_id"),
    [
        ("manual-shop-eu-0123456789ab", None, "shop-eu"),
        ("backup-shop-eu-20260101T0200Z", None, "shop-eu"),
        ("verify-shop-eu-bk-1-0123456789ab", "bk-1", "shop-eu"),
        ("restore-a-b-c-0123456789ab", "b-c", "a"),
        ("policy-development", None, None),
    ],
)
def test_the_database_of_a_job_comes_from_its_instance_id(
    instance_id: str, backup_id: str | None, database_id: str | None
) -> None:
    from http_api.job_list import database_of

    assert database_of(instance_id, backup_id) == database_id


async def test_policy_preview_computes_slots_and_names_wrong_fields(api: Api) -> None:
    draft = {"timezone": "Europe/Madrid", "daily": {"keep_count": 7, "time": "02:30"}, "count": 3}
    response = await api.call("POST", "policy-preview", "reader", json=draft)
    assert response.status == 200, response.text
    slots = response.json()["slots"]
    assert len(slots) == 3 and all(slot["tiers"] == ["daily"] for slot in slots)
    local = datetime.fromisoformat(slots[0]["at"]).astimezone(ZoneInfo("Europe/Madrid"))
    assert (local.hour, local.minute) == (2, 30)

    wrong = {"timezone": "Mars/Base", "daily": {"keep_count": 0, "time": "25:00"}}
    refused = await api.call("POST", "policy-preview", "reader", json=wrong)
    assert refused.status == 422, refused.text
    fields = {detail["field"] for detail in refused.json()["error"]["details"]}
    assert {"body.daily.keep_count", "body.daily.time"} <= fields
    zone = await api.call("POST", "policy-preview", "reader", json={"timezone": "Mars/Base"})
    assert zone.status == 422
    assert [d["field"] for d in zone.json()["error"]["details"]] == ["body.timezone"]


async def test_system_report_checks_dependencies_and_hides_secrets(
    api: Api, api_env: dict[str, str]
) -> None:
    await server_srv_with_database_db(api)
    tested = await api.call("POST", "servers/srv/test", "operator")
    assert tested.status == 200, tested.text

    response = await api.call("GET", "system", "reader")
    assert response.status == 200, response.text
    report = response.json()
    checks = {check["name"]: check for check in report["dependencies"]}
    assert checks["table storage"]["ok"] is True
    assert checks["backup container"]["ok"] is True
    assert checks["secret store"]["ok"] is True
    assert checks["token validation"]["ok"] is True  # the test's key set answers
    [server] = report["servers"]
    assert server["name"] == "srv" and server["at"] is not None
    # srv asks for TLS (the default), which the machine's PostgreSQL does not offer
    assert tested.json()["outcome"] == "tls_required" and server["ok"] is False
    assert server["message"] == f"{MESSAGES[Outcome.TLS_REQUIRED]} at 127.0.0.1:5432"
    settings = {setting["name"]: setting["value"] for setting in report["configuration"]}
    assert settings["BACKUP_STORAGE_CONNECTION_STRING"] == "set"
    assert settings["LOCAL_SECRET_KEY"] == "set"
    assert settings["TABLE_PREFIX"] == api_env["TABLE_PREFIX"]
    text = response.text
    for secret in (api_env["LOCAL_SECRET_KEY"], "AccountKey"):
        assert secret not in text
    assert report["versions"]["python"] and report["network"]["ok"] is None
    assert any(tool["name"] == "pg_dump" and tool["version"] for tool in report["tools"])
