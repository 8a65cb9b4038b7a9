"""Bad input on every body route: 400/422 naming the field, the one error shape, no echo of
what was sent, and nothing changed."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

SECRET = "never-echo-this-3f9a"


async def fixtures(api: Api) -> dict[str, str]:
    server = await api.call(
        "POST", "servers",
        json={"id": "srv", "name": "s", "engine": "mariadb", "host": "127.0.0.1", "port": 3306,
              "username": "root"},
    )  # fmt: skip
    assert server.status == 201
    database = await api.call(
        "POST", "databases", json={"id": "db", "server_id": "srv", "name": "d"}
    )
    assert database.status == 201
    policy = await api.call("POST", "policies", json={"id": "pol", "name": "p"})
    assert policy.status == 201
    return {"server": "srv", "database": "db", "policy": "pol"}


BODY_ROUTES = [
    (
        "POST",
        "servers",
        {"name": "s", "engine": "mariadb", "host": "h", "port": 1, "username": "u"},
    ),
    ("PATCH", "servers/srv", {"name": "renamed"}),
    ("POST", "servers/srv/test", {"host": "127.0.0.1", "port": 3306, "username": "root"}),
    ("POST", "servers/srv/databases", {"databases": [{"name": "new_one"}]}),
    ("POST", "databases", {"server_id": "srv", "name": "another"}),
    ("PATCH", "databases/db", {"display_name": "x"}),
    ("POST", "policies", {"name": "p2"}),
    ("PATCH", "policies/pol", {"description": "x"}),
    ("POST", "backups/db/missing-backup/restore", {"target_database": "t"}),
]


def wrong_type(valid: dict[str, Any]) -> dict[str, Any]:
    field = next(iter(valid))
    return {**valid, field: {"nested": [SECRET]}}


async def snapshot(api: Api) -> tuple[Any, ...]:
    servers = (await api.call("GET", "servers")).json()["items"]
    databases = (await api.call("GET", "databases")).json()["items"]
    policies = (await api.call("GET", "policies")).json()["items"]
    audit = (await api.call("GET", "audit", params={"page_size": "200"})).json()["items"]
    successes = [e["id"] for e in audit if e["outcome"] == "succeeded"]
    return servers, databases, policies, successes


def assert_error_shape(response: Any, statuses: set[int]) -> dict[str, Any]:
    assert response.status in statuses, (response.status, response.text)
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert SECRET not in response.text
    return body["error"]


async def test_every_body_route_refuses_bad_bodies_and_changes_nothing(api: Api) -> None:
    await fixtures(api)
    before = await snapshot(api)
    for method, path, valid in BODY_ROUTES:
        error = assert_error_shape(await api.call(method, path, data=b"{not json"), {400})
        assert error["code"] == "invalid_json"
        assert_error_shape(await api.call(method, path, json=[valid]), {422})
        unknown = await api.call(method, path, json={**valid, "password_secret_name": SECRET})
        error = assert_error_shape(unknown, {422})
        assert error["details"][0]["field"] == "body.password_secret_name", (path, error)
        typed = assert_error_shape(await api.call(method, path, json=wrong_type(valid)), {422})
        assert typed["details"][0]["field"] == f"body.{next(iter(valid))}", (path, typed)
    for method, path, _ in BODY_ROUTES:
        if method == "POST" and path.count("/") == 0:
            missing = await api.call(method, path, json={})
            assert assert_error_shape(missing, {422})["code"] == "validation_failed"
    assert await snapshot(api) == before


async def test_passwords_are_never_echoed_in_errors(api: Api) -> None:
    response = await api.call(
        "POST", "servers",
        json={"name": "s", "engine": "mariadb", "host": "h", "port": 99999, "username": "u",
              "password": SECRET},
    )  # fmt: skip
    error = assert_error_shape(response, {422})
    assert error["details"][0]["field"] == "body.port"
    wrong = await api.call("POST", "servers", json={"name": "s", "password": [SECRET]})
    assert_error_shape(wrong, {422})


async def test_bad_ids_and_queries(api: Api) -> None:
    await fixtures(api)
    for path in (
        "servers/UPPER",
        "databases/has_underscore",
        "policies/-leading",
        "backups/db/a.b",
    ):
        error = assert_error_shape(await api.call("GET", path, "reader"), {400})
        assert error["code"] == "invalid_id"
    bad_queries = [
        ("servers", {"page_size": "0"}),
        ("servers", {"page_size": "abc"}),
        ("servers", {"unknown": "1"}),
        ("backups", {"status": "exploded"}),
        ("backups", {"from": "yesterday"}),
        ("backups", {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        ("policies/pol/next-slots", {"count": "1000"}),
    ]
    for path, params in bad_queries:
        assert_error_shape(await api.call("GET", path, "reader", params=params), {422})
    token = await api.call("GET", "servers", "reader", params={"continuation": "garbage!"})
    assert assert_error_shape(token, {400})["code"] == "invalid_continuation"
    merged = await api.call("GET", "backups", "reader", params={"continuation": "garbage!"})
    assert assert_error_shape(merged, {400})["code"] == "invalid_continuation"


async def test_not_found_and_conflicts_use_the_error_shape(api: Api) -> None:
    await fixtures(api)
    for path in ("servers/nope", "databases/nope", "policies/nope", "backups/db/nope"):
        assert (
            assert_error_shape(await api.call("GET", path, "reader"), {404})["code"] == "not_found"
        )
    body = {"id": "srv", "name": "s", "engine": "mariadb", "host": "h", "port": 1, "username": "u"}
    taken = await api.call("POST", "servers", json=body)
    assert assert_error_shape(taken, {409})["code"] == "already_exists"


async def test_changes_with_bad_ids_are_refused_and_change_nothing(api: Api) -> None:
    await fixtures(api)
    before = await snapshot(api)
    attempts = [
        ("PATCH", "servers/Srv", {"name": "x"}),
        ("DELETE", "servers/srv_1", None),
        ("POST", "servers/-srv/test", None),
        ("PATCH", "databases/DB", {"enabled": False}),
        ("POST", "databases/d%20b/disable", None),
        ("POST", "databases/d.b/backups", None),
        ("DELETE", "policies/POL", None),
        ("POST", "backups/db/ID!/verify", None),
        ("DELETE", "backups/DB/x", None),
    ]
    for method, path, body in attempts:
        response = await api.call(method, path, json=body)
        assert assert_error_shape(response, {400})["code"] == "invalid_id", (method, path)
    assert await snapshot(api) == before
