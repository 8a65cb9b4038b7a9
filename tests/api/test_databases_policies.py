"""Databases and policies through the emulator: CRUD, own passwords, seeding, plans."""

from __future__ import annotations

from tests.api.conftest import Api, name

SEEDED = {"production-critical", "production-standard", "development"}


async def make_server(api: Api, **fields: object) -> dict:
    body = {"name": "pg", "engine": "postgresql", "host": "127.0.0.1", "port": 5432}
    response = await api.call("POST", "servers", json={"username": "postgres", **body, **fields})
    assert response.status == 201, response.text
    return response.json()


async def test_database_lifecycle_with_its_own_password(api: Api) -> None:
    server = await make_server(api)
    secret = "db-pass-" + name()
    created = await api.call(
        "POST", "databases",
        json={"server_id": server["id"], "name": "orders", "use_server_credentials": False,
              "username": "orders_user", "password": secret, "policy_id": "development"},
    )  # fmt: skip
    assert created.status == 201, created.text
    database = created.json()
    assert database["has_password"] is True and secret not in created.text

    newer = "db-pass-2-" + name()
    updated = await api.call("PATCH", f"databases/{database['id']}", json={"password": newer})
    assert updated.status == 200 and updated.json()["has_password"] is True
    assert newer not in updated.text

    disabled = await api.call("POST", f"databases/{database['id']}/disable")
    assert disabled.status == 200 and disabled.json()["enabled"] is False
    enabled = await api.call("POST", f"databases/{database['id']}/enable")
    assert enabled.json()["enabled"] is True

    listed = await api.call("GET", "databases", "reader", params={"server_id": server["id"]})
    assert [item["id"] for item in listed.json()["items"]] == [database["id"]]

    audit = await api.call("GET", "audit")
    assert secret not in audit.text and newer not in audit.text
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert actions[:4] == [
        "database.enable",
        "database.disable",
        "database.update",
        "database.create",
    ]

    assert (await api.call("DELETE", f"databases/{database['id']}")).status == 204
    assert (await api.call("GET", f"databases/{database['id']}")).status == 404


async def test_own_credentials_need_a_username(api: Api) -> None:
    server = await make_server(api)
    response = await api.call(
        "POST", "databases",
        json={"server_id": server["id"], "name": "x", "use_server_credentials": False},
    )  # fmt: skip
    assert response.status == 422
    assert (await api.call("GET", "databases")).json()["items"] == []


async def test_references_must_exist(api: Api) -> None:
    server = await make_server(api)
    no_server = await api.call("POST", "databases", json={"server_id": "nope", "name": "x"})
    assert no_server.status == 422
    assert no_server.json()["error"]["details"][0]["field"] == "body.server_id"
    no_policy = await api.call(
        "POST", "databases", json={"server_id": server["id"], "name": "x", "policy_id": "nope"}
    )
    assert no_policy.status == 422
    assert no_policy.json()["error"]["details"][0]["field"] == "body.policy_id"


async def test_seeded_policies_exist_once(api: Api) -> None:
    first = await api.call("GET", "policies", "reader")
    assert {item["id"] for item in first.json()["items"]} == SEEDED
    second = await api.call("GET", "policies", "reader")
    assert len(second.json()["items"]) == 3


async def test_policy_lifecycle_and_delete_refused_while_in_use(api: Api) -> None:
    created = await api.call(
        "POST", "policies",
        json={"id": "nightly", "name": "Nightly", "timezone": "Europe/Madrid",
              "daily": {"keep_count": 5, "time": "03:30"}},
    )  # fmt: skip
    assert created.status == 201, created.text
    assert (await api.call("POST", "policies", json={"id": "nightly", "name": "x"})).status == 409

    updated = await api.call(
        "PATCH", "policies/nightly", json={"weekly": {"keep_count": 2, "weekday": "friday"}}
    )
    assert updated.status == 200
    assert updated.json()["weekly"]["weekday"] == "friday"
    assert updated.json()["daily"]["time"] == "03:30"

    server = await make_server(api, default_policy_id="nightly")
    refused = await api.call("DELETE", "policies/nightly")
    assert refused.status == 409
    assert refused.json()["error"]["details"]["used_by"] == [f"servers/{server['id']}"]

    await api.call("PATCH", f"servers/{server['id']}", json={"default_policy_id": "development"})
    assert (await api.call("DELETE", "policies/nightly")).status == 204


async def test_bad_timezone_is_422(api: Api) -> None:
    response = await api.call("POST", "policies", json={"name": "x", "timezone": "Mars/Olympus"})
    assert response.status == 422
    assert response.json()["error"]["details"][0]["field"].startswith("body")


async def test_next_slots(api: Api) -> None:
    response = await api.call(
        "GET", "policies/development/next-slots", "reader",
        params={"count": "3", "after": "2026-03-06T12:00:00Z"},
    )  # fmt: skip
    assert response.status == 200, response.text
    slots = response.json()["slots"]
    assert [slot["at"][:16] for slot in slots] == [
        "2026-03-07T02:00", "2026-03-08T02:00", "2026-03-09T02:00"
    ]  # fmt: skip
    assert slots[1]["tiers"] == ["daily", "weekly"]  # 2026-03-08 is a Sunday


async def test_retention_preview_needs_a_policy(api: Api) -> None:
    server = await make_server(api)
    database = (
        await api.call("POST", "databases", json={"server_id": server["id"], "name": "a"})
    ).json()
    none = await api.call("GET", f"databases/{database['id']}/retention-preview", "reader")
    assert none.status == 409
    await api.call("PATCH", f"databases/{database['id']}", json={"policy_id": "development"})
    preview = await api.call("GET", f"databases/{database['id']}/retention-preview", "reader")
    assert preview.status == 200, preview.text
    assert preview.json()["policy_id"] == "development" and preview.json()["decisions"] == []


async def test_a_database_is_added_once_per_server(api: Api) -> None:
    server = await make_server(api)
    first = await api.call("POST", "databases", json={"server_id": server["id"], "name": "shop"})
    assert first.status == 201
    again = await api.call("POST", "databases", json={"server_id": server["id"], "name": "shop"})
    assert again.status == 409
    other = await api.call("POST", "databases", json={"server_id": server["id"], "name": "blog"})
    renamed = await api.call("PATCH", f"databases/{other.json()['id']}", json={"name": "shop"})
    assert renamed.status == 409
    listed = await api.call("GET", "databases")
    assert sorted(item["name"] for item in listed.json()["items"]) == ["blog", "shop"]


async def test_adding_a_database_starts_its_policy_loop(api: Api) -> None:
    server = await make_server(api)
    created = await api.call(
        "POST",
        "databases",
        json={"server_id": server["id"], "name": "a", "policy_id": "development"},
    )
    assert created.status == 201
    loop = await api.call("GET", "jobs/policy-development", "reader")
    assert loop.status == 200, loop.text
    assert loop.json()["name"] == "policy_loop"
    assert loop.json()["runtime_status"] in {"Pending", "Running", "ContinuedAsNew"}
