"""Status: totals, success rates, stale databases; and the audit list filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.models import BackupRecord, BackupStatus, Tier, Trigger
from tests.api.conftest import Api, repositories


def record(database_id: str, server_id: str, status: BackupStatus, age: timedelta) -> BackupRecord:
    moment = datetime.now(UTC) - age
    return BackupRecord(
        id=f"r-{status.value}-{int(age.total_seconds())}", database_id=database_id,
        server_id=server_id, status=status, tiers=[Tier.DAILY], trigger=Trigger.SCHEDULE,
        started_at=moment, finished_at=moment, created_at=moment,
        stored_bytes=100 if status is BackupStatus.SUCCEEDED else None,
        raw_bytes=400 if status is BackupStatus.SUCCEEDED else None,
        blob_name="srv/db/x.sql.zst" if status is BackupStatus.SUCCEEDED else None,
    )  # fmt: skip


async def server_srv_with_database_db(api: Api) -> None:
    """Server `srv` (development policy) with database `db`, through the API."""
    server = await api.call(
        "POST", "servers",
        json={"id": "srv", "name": "s", "engine": "postgresql", "host": "127.0.0.1",
              "port": 5432, "username": "postgres", "default_policy_id": "development"},
    )  # fmt: skip
    assert server.status == 201, server.text
    body = {"id": "db", "server_id": "srv", "name": "d"}
    database = await api.call("POST", "databases", json=body)
    assert database.status == 201, database.text


async def test_status_reports_totals_rates_and_stale_databases(
    api: Api, api_env: dict[str, str]
) -> None:
    await server_srv_with_database_db(api)
    repos = repositories(api_env)
    repos.backups.create(record("db", "srv", BackupStatus.SUCCEEDED, timedelta(days=3)))
    repos.backups.create(record("db", "srv", BackupStatus.FAILED, timedelta(hours=2)))

    status = await api.call("GET", "status", "reader")
    assert status.status == 200, status.text
    report = status.json()
    assert report["storage"] == {"backups": 1, "stored_bytes": 100, "raw_bytes": 400}
    assert report["last_24h"] == {"succeeded": 0, "failed": 1, "success_rate": 0.0}
    assert report["last_7d"] == {"succeeded": 1, "failed": 1, "success_rate": 0.5}
    [stale] = report["stale_databases"]
    assert stale["database_id"] == "db" and stale["allowed_hours"] == 25.0

    await api.call("POST", "databases/db/disable")
    report = (await api.call("GET", "status", "reader")).json()
    assert report["stale_databases"] == []


async def test_audit_filters(api: Api) -> None:
    for index in range(3):
        await api.call("POST", "policies", json={"id": f"p{index}", "name": f"P{index}"})
    await api.call("DELETE", "policies/p1")
    everything = (await api.call("GET", "audit")).json()["items"]
    assert [entry["action"] for entry in everything][:4] == [
        "policy.delete", "policy.create", "policy.create", "policy.create"
    ]  # fmt: skip
    deletes = await api.call("GET", "audit", params={"action": "policy.delete"})
    assert [entry["resource"] for entry in deletes.json()["items"]] == ["policies/p1"]
    one = await api.call("GET", "audit", params={"resource": "policies/p2"})
    assert len(one.json()["items"]) == 1
    paged = await api.call("GET", "audit", params={"page_size": "2"})
    assert len(paged.json()["items"]) == 2 and paged.json()["continuation"]
    rest = await api.call(
        "GET", "audit", params={"page_size": "2", "continuation": paged.json()["continuation"]}
    )
    assert rest.status == 200 and len(rest.json()["items"]) == 2


async def test_backup_list_is_newest_first_across_databases_with_paging(
    api: Api, api_env: dict[str, str]
) -> None:
    await api.call(
        "POST", "servers",
        json={"id": "srv", "name": "s", "engine": "postgresql", "host": "127.0.0.1",
              "port": 5432, "username": "postgres"},
    )  # fmt: skip
    for database in ("a", "b", "c"):
        await api.call(
            "POST", "databases", json={"id": database, "server_id": "srv", "name": database}
        )
    repos = repositories(api_env)
    expected = []
    for hours in range(1, 10):
        database = "abc"[hours % 3]
        made = record(database, "srv", BackupStatus.SUCCEEDED, timedelta(hours=hours))
        repos.backups.create(made)
        expected.append(made.id)
    seen: list[str] = []
    continuation = None
    for _ in range(10):
        params = {"page_size": "4", **({"continuation": continuation} if continuation else {})}
        page = (await api.call("GET", "backups", "reader", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        continuation = page["continuation"]
        if not continuation:
            break
    assert seen == expected  # created 1 h, 2 h, … ago: newest first, each once
    only_a = await api.call("GET", "backups", "reader", params={"database_id": "a"})
    assert {item["database_id"] for item in only_a.json()["items"]} == {"a"}
    weekly = await api.call("GET", "backups", "reader", params={"tier": "weekly"})
    assert weekly.json()["items"] == []


async def test_running_backups_are_listed_in_status(api: Api) -> None:
    # A server that never answers (a black-holed address): the backup stays running.
    await api.call(
        "POST", "servers",
        json={"id": "far", "name": "far", "engine": "postgresql", "host": "10.255.255.1",
              "port": 5432, "username": "postgres"},
    )  # fmt: skip
    await api.call("POST", "databases", json={"id": "slow", "server_id": "far", "name": "slow"})
    started = await api.call("POST", "databases/slow/backups", "operator")
    assert started.status == 202
    running = (await api.call("GET", "status", "reader")).json()["running_jobs"]
    assert [job["instance_id"] for job in running] == [started.json()["instance_id"]]
    assert running[0]["name"] == "backup_database"


async def test_times_without_a_zone_are_taken_as_utc(api: Api, api_env: dict[str, str]) -> None:
    await api.call(
        "POST", "servers",
        json={"id": "srv", "name": "s", "engine": "postgresql", "host": "127.0.0.1",
              "port": 5432, "username": "postgres"},
    )  # fmt: skip
    for database in ("a", "b"):
        await api.call(
            "POST", "databases", json={"id": database, "server_id": "srv", "name": database}
        )
    repos = repositories(api_env)
    made = [
        record("ab"[hours % 2], "srv", BackupStatus.SUCCEEDED, timedelta(hours=hours))
        for hours in (1, 2, 3)
    ]
    for item in made:
        repos.backups.create(item)
    now = datetime.now(UTC)
    naive = {
        "from": (now - timedelta(days=1)).replace(tzinfo=None).isoformat(),
        "to": (now - timedelta(minutes=90)).replace(tzinfo=None).isoformat(),
    }
    aware = {"from": (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")}
    for params in (
        {**aware, "to": naive["to"]},  # one with a zone, one without
        naive,
        {"database_id": "b", **aware, "to": naive["to"]},
    ):
        listed = await api.call("GET", "backups", "reader", params=params)
        assert listed.status == 200, (params, listed.text)
        wanted = params.get("database_id")
        expected = [item.id for item in made[1:] if wanted in (None, item.database_id)]
        assert [item["id"] for item in listed.json()["items"]] == expected, params
    # A continuation (an aware cursor) with an `until` without a zone.
    first = await api.call("GET", "backups", "reader", params={"page_size": "1", "to": naive["to"]})
    assert first.status == 200, first.text
    rest = await api.call(
        "GET", "backups", "reader",
        params={"to": naive["to"], "continuation": first.json()["continuation"]},
    )  # fmt: skip
    assert rest.status == 200, rest.text
    assert [item["id"] for item in rest.json()["items"]] == [made[2].id]
    audit = await api.call("GET", "audit", params={**aware, "to": naive["to"]})
    assert audit.status == 200, audit.text
    backwards = {"from": naive["to"], "to": aware["from"]}
    assert (await api.call("GET", "backups", "reader", params=backwards)).status == 422
    slots = await api.call(
        "GET", "policies/development/next-slots", "reader",
        params={"count": "1", "after": "2026-03-06T12:00:00"},
    )  # fmt: skip
    assert slots.status == 200, slots.text
    assert slots.json()["slots"][0]["at"].startswith("2026-03-07T02:00")


async def test_backup_list_by_database_and_server_never_widens(
    api: Api, api_env: dict[str, str]
) -> None:
    for server in ("one", "two"):
        await api.call(
            "POST", "servers",
            json={"id": server, "name": server, "engine": "postgresql", "host": "127.0.0.1",
                  "port": 5432, "username": "postgres"},
        )  # fmt: skip
    await api.call("POST", "databases", json={"id": "a", "server_id": "one", "name": "a"})
    repos = repositories(api_env)
    made = record("a", "one", BackupStatus.SUCCEEDED, timedelta(hours=1))
    repos.backups.create(made)
    matching = await api.call(
        "GET", "backups", "reader", params={"database_id": "a", "server_id": "one"}
    )
    assert [item["id"] for item in matching.json()["items"]] == [made.id]
    other = await api.call(
        "GET", "backups", "reader", params={"database_id": "a", "server_id": "two"}
    )
    assert other.status == 200, other.text
    assert other.json() == {"items": [], "continuation": None}
    unknown = await api.call(
        "GET", "backups", "reader", params={"database_id": "a", "server_id": "nowhere"}
    )
    assert unknown.status == 200 and unknown.json()["items"] == []


async def test_retention_preview_decides_on_what_a_retention_run_reads(
    api: Api, api_env: dict[str, str]
) -> None:
    """Expired records whose blob is gone are history: neither the run nor its preview
    decides on them again; an expired record whose blob is still named (an interrupted
    deletion) is decided on by both."""
    await server_srv_with_database_db(api)
    repos = repositories(api_env)
    alive = repos.backups.create(record("db", "srv", BackupStatus.SUCCEEDED, timedelta(days=1)))
    history = record("db", "srv", BackupStatus.EXPIRED, timedelta(days=40))
    repos.backups.create(history.model_copy(update={"id": "gone", "blob_name": None}))
    unfinished = history.model_copy(update={"id": "half", "blob_name": "srv/db/half.sql.zst"})
    repos.backups.create(unfinished)

    preview = await api.call("GET", "databases/db/retention-preview", "reader")
    assert preview.status == 200, preview.text
    decided = {d["backup_id"] for d in preview.json()["decisions"]}
    assert decided == {alive.id, "half"}
    assert {r.id for r in repos.backups.retention_candidates("db")} == decided
