"""Servers through the emulator: CRUD, connection tests, discovery, bulk add, delete rules."""

from __future__ import annotations

import pytest

from shared.models import Server
from tests.api.conftest import Api, name, repositories

pytestmark = pytest.mark.asyncio


def mariadb_server(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "local mariadb",
        "engine": "mariadb",
        "host": "127.0.0.1",
        "port": 3306,
        "username": "root",
        "tls_mode": "disable",
    }
    body.update(overrides)
    return body


async def test_create_read_update_list_delete(api: Api) -> None:
    created = await api.call("POST", "servers", json=mariadb_server(id=name("s")))
    assert created.status == 201, created.text
    server = created.json()
    assert server["has_password"] is False and "password" not in server

    got = await api.call("GET", f"servers/{server['id']}", "reader")
    assert got.status == 200 and got.json()["host"] == "127.0.0.1"

    patched = await api.call("PATCH", f"servers/{server['id']}", json={"port": 3307})
    assert patched.status == 200 and patched.json()["port"] == 3307

    listed = await api.call("GET", "servers", "reader")
    assert [item["id"] for item in listed.json()["items"]] == [server["id"]]

    deleted = await api.call("DELETE", f"servers/{server['id']}")
    assert deleted.status == 204
    assert (await api.call("GET", f"servers/{server['id']}", "reader")).status == 404


async def test_password_is_write_only(api: Api) -> None:
    secret = "S3cret-" + name("p")
    created = await api.call("POST", "servers", json=mariadb_server(password=secret))
    assert created.status == 201
    assert created.json()["has_password"] is True
    assert secret not in created.text
    audit = await api.call("GET", "audit", params={"action": "server.create"})
    assert audit.status == 200 and len(audit.json()["items"]) == 1
    assert secret not in audit.text


async def test_connection_test_with_stored_and_new_credentials(api: Api) -> None:
    server = (await api.call("POST", "servers", json=mariadb_server())).json()
    stored = await api.call("POST", f"servers/{server['id']}/test", "operator")
    assert stored.status == 200, stored.text
    assert stored.json()["ok"] is True and stored.json()["credentials"] == "stored"

    wrong = "not-the-password-" + name()
    fresh = await api.call(
        "POST", f"servers/{server['id']}/test", "operator",
        json={"host": "127.0.0.1", "port": 3306, "username": "root", "password": wrong},
    )  # fmt: skip
    assert fresh.status == 200
    assert fresh.json()["ok"] is False and fresh.json()["credentials"] == "request"
    assert fresh.json()["outcome"] == "authentication_failed"
    assert wrong not in fresh.text

    # A host without credentials would mean "stored credentials against this host": refused.
    half = await api.call(
        "POST", f"servers/{server['id']}/test", "operator", json={"host": "10.1.2.3"}
    )
    assert half.status == 422

    audit = await api.call("GET", "audit", params={"action": "server.test"})
    outcomes = sorted(entry["outcome"] for entry in audit.json()["items"])
    assert outcomes == ["failed", "failed", "succeeded"]
    # Which credentials each test used; the refused one never got as far as a test.
    using = sorted(
        (entry["outcome"], entry["details"].get("using", "")) for entry in audit.json()["items"]
    )
    assert using == [("failed", ""), ("failed", "request"), ("succeeded", "stored")]
    assert wrong not in audit.text


async def test_discover_and_add_databases(api: Api, mariadb_database: str) -> None:
    server = (await api.call("POST", "servers", json=mariadb_server())).json()
    found = await api.call("GET", f"servers/{server['id']}/discover", "operator")
    assert found.status == 200, found.text
    by_name = {item["name"]: item for item in found.json()["databases"]}
    assert by_name[mariadb_database]["added"] is False
    assert by_name["mysql"]["is_system"] is True

    added = await api.call(
        "POST", f"servers/{server['id']}/databases",
        json={"databases": [{"name": mariadb_database}]},
    )  # fmt: skip
    assert added.status == 201, added.text
    database_id = added.json()["created"][0]["id"]

    again = await api.call("GET", f"servers/{server['id']}/discover", "operator")
    entry = {item["name"]: item for item in again.json()["databases"]}[mariadb_database]
    assert entry["added"] is True and entry["database_id"] == database_id

    twice = await api.call(
        "POST", f"servers/{server['id']}/databases",
        json={"databases": [{"name": mariadb_database}]},
    )  # fmt: skip
    assert twice.status == 409


async def test_delete_refused_while_databases_use_it(api: Api) -> None:
    server = (await api.call("POST", "servers", json=mariadb_server())).json()
    database = await api.call("POST", "databases", json={"server_id": server["id"], "name": "app"})
    assert database.status == 201, database.text
    refused = await api.call("DELETE", f"servers/{server['id']}")
    assert refused.status == 409
    assert refused.json()["error"]["code"] == "conflict"
    assert (await api.call("GET", f"databases/{database.json()['id']}")).status == 200

    cascaded = await api.call("DELETE", f"servers/{server['id']}", params={"cascade": "true"})
    assert cascaded.status == 204
    assert (await api.call("GET", f"databases/{database.json()['id']}")).status == 404


async def test_driver_errors_are_a_failed_test_not_a_500(api: Api) -> None:
    server = (await api.call("POST", "servers", json=mariadb_server())).json()
    path = f"servers/{server['id']}/test"
    fields = {"host": "127.0.0.1", "port": 3306, "username": "root"}
    euro = await api.call("POST", path, "operator", json={**fields, "password": "€uro-pässwörd"})
    assert euro.status == 200, euro.text
    assert euro.json()["ok"] is False
    # A lone surrogate is not text: refused as a field error, never passed to a driver.
    broken = await api.call("POST", path, "operator", json={**fields, "password": "\udcff"})
    assert broken.status == 422
    assert broken.json()["error"]["details"][0]["field"] == "body.password"


async def test_moving_a_server_needs_its_password_again(api: Api) -> None:
    server = (await api.call("POST", "servers", json=mariadb_server(password="old"))).json()
    moved = await api.call("PATCH", f"servers/{server['id']}", json={"host": "198.51.100.7"})
    assert moved.status == 422
    assert moved.json()["error"]["details"][0]["field"] == "body.password"
    unchanged = await api.call("GET", f"servers/{server['id']}")
    assert unchanged.json()["host"] == "127.0.0.1"
    both = await api.call(
        "PATCH", f"servers/{server['id']}", json={"host": "198.51.100.7", "password": "new"}
    )
    assert both.status == 200 and both.json()["host"] == "198.51.100.7"
    renamed = await api.call("PATCH", f"servers/{server['id']}", json={"name": "other"})
    assert renamed.status == 200


async def test_moving_a_server_clears_the_passwords_of_databases_with_their_own(
    api: Api,
) -> None:
    server = (await api.call("POST", "servers", json=mariadb_server(password="old"))).json()
    own = {"use_server_credentials": False, "username": "u", "password": "db-secret"}
    with_own = await api.call(
        "POST", "databases", json={"server_id": server["id"], "name": "orders", **own}
    )
    inherits = await api.call("POST", "databases", json={"server_id": server["id"], "name": "b"})
    assert with_own.status == 201 and inherits.status == 201
    assert with_own.json()["has_password"] is True
    renamed = await api.call("PATCH", f"servers/{server['id']}", json={"name": "same place"})
    assert renamed.status == 200
    kept = await api.call("GET", f"databases/{with_own.json()['id']}")
    assert kept.json()["has_password"] is True  # no move, nothing cleared

    moved = await api.call(
        "PATCH", f"servers/{server['id']}", json={"host": "198.51.100.7", "password": "new"}
    )
    assert moved.status == 200
    cleared = await api.call("GET", f"databases/{with_own.json()['id']}")
    assert cleared.json()["has_password"] is False
    audit = (await api.call("GET", "audit")).json()["items"]
    entry = next(e for e in audit if e["resource"] == f"servers/{server['id']}" and e["details"])
    assert entry["details"]["databases_logins_cleared"] == [with_own.json()["id"]]


async def test_server_list_pages_with_a_continuation(api: Api) -> None:
    ids = sorted(name("s") for _ in range(5))
    for server_id in ids:
        assert (await api.call("POST", "servers", json=mariadb_server(id=server_id))).status == 201
    seen: list[str] = []
    params = {"page_size": "2"}
    for _ in range(5):
        page = (await api.call("GET", "servers", "reader", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        if not page["continuation"]:
            break
        params = {"page_size": "2", "continuation": page["continuation"]}
    assert seen == ids


async def test_tls_is_required_by_default_and_verified_on_azure(
    api: Api, api_env: dict[str, str]
) -> None:
    body = mariadb_server()
    del body["tls_mode"]
    local = await api.call("POST", "servers", json=body)
    assert local.status == 201 and local.json()["tls_mode"] == "require"
    for host in ("prod.postgres.database.azure.com", "Shop.MySQL.database.azure.com",
                 "sql1.database.windows.net"):  # fmt: skip
        azure = await api.call("POST", "servers", json={**body, "host": host})
        assert azure.status == 201 and azure.json()["tls_mode"] == "verify-full", host
    opted_out = await api.call("POST", "servers", json=mariadb_server())
    assert opted_out.json()["tls_mode"] == "disable"
    # A server stored before the default changed keeps its mode.
    older = Server(id=name("s"), name="older", engine="mariadb", host="10.0.0.5", port=3306,
                   username="root", tls_mode="prefer")  # fmt: skip
    repositories(api_env).servers.create(older)
    assert (await api.call("GET", f"servers/{older.id}")).json()["tls_mode"] == "prefer"


async def test_a_weaker_tls_mode_or_another_user_needs_the_password_again(api: Api) -> None:
    body = mariadb_server(password="entered-for-require", tls_mode="require")
    server = (await api.call("POST", "servers", json=body)).json()
    path = f"servers/{server['id']}"
    for change in ({"tls_mode": "prefer"}, {"tls_mode": "disable"}, {"username": "other"}):
        refused = await api.call("PATCH", path, json=change)
        assert refused.status == 422, change
        assert refused.json()["error"]["details"][0]["field"] == "body.password"
    assert (await api.call("GET", path)).json()["tls_mode"] == "require"
    stronger = await api.call("PATCH", path, json={"tls_mode": "verify-full"})
    assert stronger.status == 200 and stronger.json()["has_password"] is True
    weaker = await api.call("PATCH", path, json={"tls_mode": "disable", "password": "again"})
    assert weaker.status == 200 and weaker.json()["tls_mode"] == "disable"

    own = {"use_server_credentials": False, "username": "u1", "password": "db-pw"}
    database = await api.call(
        "POST", "databases", json={"server_id": server["id"], "name": "d", **own}
    )
    database_path = f"databases/{database.json()['id']}"
    renamed = await api.call("PATCH", database_path, json={"username": "u2"})
    assert renamed.status == 422
    assert renamed.json()["error"]["details"][0]["field"] == "body.password"
    both = await api.call("PATCH", database_path, json={"username": "u2", "password": "pw2"})
    assert both.status == 200 and both.json()["username"] == "u2"


def entra_server(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "azure pg", "engine": "postgresql", "host": "shop.postgres.database.azure.com",
        "port": 5432, "username": "dilux-app", "auth": "entra",
    }  # fmt: skip
    body.update(overrides)
    return body


async def test_an_entra_server_has_no_password_and_verified_tls(api: Api) -> None:
    created = await api.call("POST", "servers", json=entra_server())
    assert created.status == 201, created.text
    server = created.json()
    assert server["auth"] == "entra" and server["tls_mode"] == "verify-full"
    assert server["has_password"] is False
    refused = {
        "a password": {"password": "x"},
        "TLS without verification": {"tls_mode": "require"},
        "no TLS": {"tls_mode": "disable"},
        "SQL Server": {"engine": "sqlserver", "port": 1433},
        "MariaDB": {"engine": "mariadb", "port": 3306},
    }
    for why, change in refused.items():
        answer = await api.call("POST", "servers", json=entra_server(**change))
        assert answer.status == 422, why
    # A database of it cannot bring a login of its own.
    own = {"use_server_credentials": False, "username": "u", "password": "p"}
    database = await api.call(
        "POST", "databases", json={"server_id": server["id"], "name": "orders", **own}
    )
    assert database.status == 422
    assert database.json()["error"]["details"][0]["field"] == "body.use_server_credentials"
    plain = await api.call("POST", "databases", json={"server_id": server["id"], "name": "a"})
    assert plain.status == 201
    switched = await api.call(
        "PATCH", f"databases/{plain.json()['id']}", json={"use_server_credentials": False,
                                                            "username": "u"},
    )  # fmt: skip
    assert switched.status == 422
    weakened = await api.call("PATCH", f"servers/{server['id']}", json={"tls_mode": "require"})
    assert weakened.status == 422


async def test_switching_to_entra_deletes_the_stored_password(
    api: Api, api_env: dict[str, str]
) -> None:
    body = mariadb_server(engine="mysql", password="old-password", tls_mode="require")
    server = (await api.call("POST", "servers", json=body)).json()
    path = f"servers/{server['id']}"
    with_own = await api.call(
        "POST", "databases", json={"server_id": server["id"], "name": "o",
                                   "use_server_credentials": False, "username": "u"},
    )  # fmt: skip
    assert with_own.status == 201
    change = {"auth": "entra", "host": "shop.mysql.database.azure.com", "tls_mode": "verify-full"}
    refused = await api.call("PATCH", path, json=change)
    assert refused.status == 422 and with_own.json()["id"] in refused.text
    deleted = await api.call("DELETE", f"databases/{with_own.json()['id']}")
    assert deleted.status == 204
    with_password = await api.call("PATCH", path, json={**change, "password": "again"})
    assert with_password.status == 422
    switched = await api.call("PATCH", path, json=change)
    assert switched.status == 200, switched.text
    assert switched.json()["auth"] == "entra" and switched.json()["has_password"] is False
    from shared.secrets import secret_store_from_settings, server_secret_name
    from shared.settings import load_settings

    settings = load_settings(
        backup_storage_connection_string=api_env["BACKUP_STORAGE_CONNECTION_STRING"],
        secret_store="local", local_secret_key=api_env["LOCAL_SECRET_KEY"],
    )  # fmt: skip
    assert secret_store_from_settings(settings).get(server_secret_name(server["id"])) is None


async def test_a_token_never_goes_to_a_host_outside_azure(api: Api) -> None:
    """An admin (or a stolen admin token) registers an Entra server at its own host: the
    connection test fails before any token is asked for."""
    body = entra_server(host="collector.attacker.example", engine="mysql", port=3306)
    server = (await api.call("POST", "servers", json=body)).json()
    tested = await api.call("POST", f"servers/{server['id']}/test", "operator")
    assert tested.status == 200, tested.text
    assert tested.json()["ok"] is False
    assert tested.json()["outcome"] == "authentication_failed"
