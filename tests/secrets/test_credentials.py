"""ConnectionSpecs from stored servers and databases, passwords from the store."""

from __future__ import annotations

import pytest

from shared.credentials import CredentialsError, connection_spec_for, server_spec_for
from shared.models import Database, Server
from shared.secrets.local import LocalSecretStore
from shared.settings import Settings, load_settings

SERVER_PASSWORD = "server-pw-Zq9"
DATABASE_PASSWORD = "database-pw-Xk2"


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        backup_storage_connection_string="UseDevelopmentStorage=true",
        secret_store="local",
        connect_timeout_seconds=3,
    )


def _server(has_password: bool = True) -> Server:
    return Server(
        id="pg",
        name="PG",
        engine="mariadb",
        host="127.0.0.1",
        port=3306,
        username="root",
        tls_mode="require",
        has_password=has_password,
    )


def _database(**changes: object) -> Database:
    return Database(**{"id": "shop", "server_id": "pg", "name": "shop_db", **changes})


def test_server_credentials_by_default(local_store: LocalSecretStore, settings: Settings) -> None:
    local_store.set("server-pg", SERVER_PASSWORD)
    spec = connection_spec_for(_server(), _database(), local_store, settings)
    assert (spec.engine, spec.host, spec.port) == ("mariadb", "127.0.0.1", 3306)
    assert spec.username == "root"
    assert spec.database == "shop_db" and spec.tls_mode == "require"
    assert spec.connect_timeout_seconds == 3
    assert spec.password.get_secret_value() == SERVER_PASSWORD
    assert SERVER_PASSWORD not in repr(spec) and SERVER_PASSWORD not in spec.model_dump_json()


def test_own_credentials(local_store: LocalSecretStore, settings: Settings) -> None:
    local_store.set("server-pg", SERVER_PASSWORD)
    local_store.set("database-shop", DATABASE_PASSWORD)
    database = _database(use_server_credentials=False, username="shop_app", has_password=True)
    spec = connection_spec_for(_server(), database, local_store, settings)
    assert spec.username == "shop_app"
    assert spec.password.get_secret_value() == DATABASE_PASSWORD


def test_missing_password_names_the_secret(
    local_store: LocalSecretStore, settings: Settings
) -> None:
    database = _database(use_server_credentials=False, username="shop_app", has_password=True)
    local_store.set("server-pg", SERVER_PASSWORD)
    with pytest.raises(CredentialsError, match="'database-shop' is missing") as error:
        connection_spec_for(_server(), database, local_store, settings)
    assert SERVER_PASSWORD not in str(error.value)
    with pytest.raises(CredentialsError, match="'server-pg' is missing"):
        server_spec_for(_server(), EmptySecretStore(), settings, "mysql")


def test_no_password_means_an_empty_one(local_store: LocalSecretStore, settings: Settings) -> None:
    spec = server_spec_for(_server(has_password=False), local_store, settings, "information_schema")
    assert spec.password.get_secret_value() == ""
    assert spec.database == "information_schema"


def test_database_of_another_server_is_refused(
    local_store: LocalSecretStore, settings: Settings
) -> None:
    with pytest.raises(CredentialsError, match="does not belong"):
        connection_spec_for(_server(), _database(server_id="other"), local_store, settings)


class EmptySecretStore:
    """An empty store: every secret is missing."""

    def get(self, name: str) -> str | None:
        return None

    def set(self, name: str, value: str) -> None:
        raise AssertionError("not expected")

    def delete(self, name: str) -> None:
        raise AssertionError("not expected")
