"""Restore drills through the API: a drill now (operator) of a real backup, its record in
`GET /databases/{id}/drills` (reader), its outcome on the status summary and the overview;
roles and bad input; the reserved scratch names refused as restore targets and hidden from
discovery; a policy's drill schedule and drill server checked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from shared.models import DrillRecord, DrillStatus, Trigger
from tests.api.conftest import PG, Api, name, repositories
from tests.api.test_backups import add_database, finished_job, stored_backup


@pytest.fixture
def scratch_lookalike() -> Iterator[str]:
    """A database on the machine's PostgreSQL named like a drill's scratch database."""
    scratch = name("dilux_drill_api_")
    with psycopg.connect(PG.format("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    yield scratch
    with psycopg.connect(PG.format("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


async def test_a_drill_now_of_a_real_backup_is_listed_and_summarised(
    api: Api, filled_database: str
) -> None:
    database_id = await add_database(api, filled_database)
    backup = await api.call("POST", f"databases/{database_id}/backups", "operator")
    assert (await finished_job(api, backup.json()))["result"] == "succeeded"

    refused = await api.call("POST", f"databases/{database_id}/drills", "reader")
    assert refused.status == 403
    started = await api.call("POST", f"databases/{database_id}/drills", "operator")
    assert started.status == 202, started.text
    accepted = started.json()
    job = await finished_job(api, accepted)
    assert job["result"] == "succeeded" and job["name"] == "drill_database", job

    listed = await api.call("GET", f"databases/{database_id}/drills", "reader")
    assert listed.status == 200, listed.text
    (drill,) = listed.json()["items"]
    record = DrillRecord.model_validate(drill)
    assert record.id == accepted["record_id"] and record.status is DrillStatus.SUCCEEDED
    assert record.trigger is Trigger.MANUAL and record.backup_id == backup.json()["record_id"]
    assert record.restore_seconds and record.bytes_per_second and record.scratch_dropped

    status = (await api.call("GET", "status", "reader")).json()
    (summary,) = [d for d in status["drills"] if d["database_id"] == database_id]
    assert summary["drill_id"] == record.id and summary["status"] == "succeeded"
    assert summary["restore_seconds"] == record.restore_seconds
    assert 0 <= summary["age_hours"] < 1
    overview = (await api.call("GET", "overview", "reader")).json()
    (row,) = [r for r in overview["databases"] if r["database_id"] == database_id]
    assert row["last_drill"]["drill_id"] == record.id
    assert row["last_drill"]["status"] == "succeeded"

    audit = (await api.call("GET", "audit", params={"action": "drill.start"})).json()["items"]
    assert sorted(entry["outcome"] for entry in audit) == ["denied", "succeeded"]
    (done,) = [entry for entry in audit if entry["outcome"] == "succeeded"]
    assert done["details"]["drill_id"] == record.id and "operator@example.test" in done["actor"]


async def test_drill_routes_refuse_what_is_not_there(api: Api, api_env: dict[str, str]) -> None:
    database_id = await add_database(api, name("pg_absent_"))
    assert (await api.call("GET", "databases/nowhere/drills", "reader")).status == 404
    assert (await api.call("POST", "databases/nowhere/drills", "operator")).status == 404
    assert (await api.call("GET", "databases/BAD/drills", "reader")).status == 400
    missing = await api.call(
        "POST", f"databases/{database_id}/drills", "operator", json={"backup_id": "nope"}
    )
    assert missing.status == 404, missing.text
    extra = await api.call(
        "POST", f"databases/{database_id}/drills", "operator", json={"surprise": 1}
    )
    assert extra.status == 422
    empty = await api.call("GET", f"databases/{database_id}/drills", "reader")
    assert empty.status == 200 and empty.json()["items"] == []
    # Nothing to drill yet: skipped, with a reason of our own that every role may read.
    started = await api.call("POST", f"databases/{database_id}/drills", "operator")
    job = await finished_job(api, started.json(), "reader")
    assert job["result"] == "failed" and job["output"]["status"] == "skipped"
    assert job["output"]["error"] == "the database has no successful backup to drill"


async def test_readers_see_the_class_of_a_drill_failure_and_admins_its_text(
    api: Api, api_env: dict[str, str]
) -> None:
    database_id = await add_database(api, name("pg_absent_"))
    raw = "restore failed: psql exited with code 3; stderr: ERROR: at host 10.1.2.3"
    failed = DrillRecord(
        id=name("d"), database_id=database_id, server_id="s", status=DrillStatus.FAILED,
        created_at=datetime.now(UTC), error=raw, scratch_dropped=True,
    )  # fmt: skip
    repositories(api_env).drills.create(failed)
    for role, expected in (
        ("reader", "the restore tool failed (exit code 3); an administrator can read the details"),
        ("admin", raw),
    ):
        (item,) = (await api.call("GET", f"databases/{database_id}/drills", role)).json()["items"]
        assert item["error"] == expected
        status = (await api.call("GET", "status", role)).json()
        (summary,) = [d for d in status["drills"] if d["database_id"] == database_id]
        assert summary["error"] == expected
    left = DrillRecord(
        id=name("d"), database_id=database_id, server_id="s", status=DrillStatus.RUNNING,
        created_at=datetime.now(UTC), scratch_database="dilux_drill_x_1", scratch_dropped=False,
    )  # fmt: skip
    repositories(api_env).drills.create(left)
    assert (await api.call("DELETE", f"databases/{database_id}")).status == 204
    # The drills go with the database, but one whose scratch database may be left stays
    # for the watchdog's cleanup.
    remaining = list(repositories(api_env).drills.iter_by_database(database_id))
    assert [drill.id for drill in remaining] == [left.id]


async def test_scratch_names_are_no_restore_target_and_discovery_hides_them(
    api: Api, api_env: dict[str, str], scratch_lookalike: str
) -> None:
    database_id = await add_database(api, name("pg_absent_"))
    server_id = (await api.call("GET", f"databases/{database_id}")).json()["server_id"]
    backup_id = stored_backup(api_env, database_id, server_id)
    for target in ("dilux_drill_x", "DILUX_DRILL_shop_1234abcd"):
        refused = await api.call(
            "POST", f"backups/{database_id}/{backup_id}/restore", json={"target_database": target}
        )
        assert refused.status == 422, refused.text
        [detail] = refused.json()["error"]["details"]
        assert detail["field"] == "body.target_database" and "restore drills" in detail["message"]
    found = await api.call("GET", f"servers/{server_id}/discover", "operator")
    assert found.status == 200, found.text
    names = {item["name"] for item in found.json()["databases"]}
    assert "postgres" in names and scratch_lookalike not in names


async def test_a_policy_s_drill_schedule_and_drill_server(api: Api) -> None:
    body = {"name": "drilled", "daily": {"keep_count": 3}}
    nowhere = {**body, "drill": {"frequency": "weekly", "server_id": "no-such-server"}}
    refused = await api.call("POST", "policies", json=nowhere)
    assert refused.status == 422
    assert refused.json()["error"]["details"][0]["field"] == "body.drill.server_id"
    bad_time = await api.call("POST", "policies", json={**body, "drill": {"time": "25:00"}})
    assert bad_time.status == 422
    created = await api.call("POST", "policies", json={**body, "drill": {"sample_size": 2}})
    assert created.status == 201, created.text
    drill = created.json()["drill"]
    assert drill == {
        "enabled": True, "frequency": "weekly", "weekday": "sunday", "day": 1, "time": "04:00",
        "sample_size": 2, "server_id": None,
    }  # fmt: skip
    policy_id = created.json()["id"]
    changed = await api.call("PATCH", f"policies/{policy_id}", json={"name": "renamed"})
    assert changed.json()["drill"] == drill  # untouched by a change that does not name it
    removed = await api.call("PATCH", f"policies/{policy_id}", json={"drill": None})
    assert removed.status == 200 and removed.json()["drill"] is None
