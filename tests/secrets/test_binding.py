"""A stored password goes only where it was entered for (shared/secrets/binding.py)."""

from __future__ import annotations

import pytest

from shared.credentials import (
    CredentialsError,
    bind_unbound,
    connection_spec_for,
    server_binding,
    server_spec_for,
    store_password,
)
from shared.engines.base import ConnectionErrorKind, EngineError
from shared.models import Database, Server, TlsMode
from shared.secrets.base import SecretStoreError
from shared.secrets.binding import FORMAT, Binding, PasswordNotBoundHere, seal, unseal
from shared.secrets.local import LocalSecretStore
from shared.settings import Settings, load_settings

HOME = Binding.of("db.example.com", 3306, "app", TlsMode.REQUIRE)


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        backup_storage_connection_string="UseDevelopmentStorage=true", secret_store="local"
    )


def _server(**changes: object) -> Server:
    values: dict[str, object] = {
        "id": "prod", "name": "prod", "engine": "mariadb", "host": "db.example.com",
        "port": 3306, "username": "app", "tls_mode": "require", "has_password": True,
    }  # fmt: skip
    return Server(**{**values, **changes})


def _own_database(**changes: object) -> Database:
    values: dict[str, object] = {
        "id": "orders", "server_id": "prod", "name": "orders",
        "use_server_credentials": False, "username": "orders_app", "has_password": True,
    }  # fmt: skip
    return Database(**{**values, **changes})


def test_a_sealed_password_round_trips_with_its_binding() -> None:
    stored = unseal(seal('pa"ss{wörd}', HOME))
    assert stored.password == 'pa"ss{wörd}' and stored.binding == HOME
    assert stored.for_target(HOME) == 'pa"ss{wörd}'


@pytest.mark.parametrize(
    "target",
    [
        Binding.of("evil.example.net", 3306, "app", TlsMode.REQUIRE),
        Binding.of("db.example.com", 3307, "app", TlsMode.REQUIRE),
        Binding.of("db.example.com", 3306, "root", TlsMode.REQUIRE),
        Binding.of("db.example.com", 3306, "app", TlsMode.PREFER),
        Binding.of("db.example.com", 3306, "app", TlsMode.DISABLE),
    ],
)
def test_another_host_port_user_or_a_weaker_tls_mode_gets_no_password(target: Binding) -> None:
    assert not HOME.admits(target)
    with pytest.raises(PasswordNotBoundHere, match="entered for another address"):
        unseal(seal("secret", HOME)).for_target(target)


def test_the_same_place_written_differently_or_a_stronger_tls_mode_is_admitted() -> None:
    assert HOME.admits(Binding.of("DB.Example.COM.", 3306, "app", TlsMode.REQUIRE))
    assert HOME.admits(Binding.of("db.example.com", 3306, "app", TlsMode.VERIFY_FULL))
    v6 = Binding.of("[2001:db8::1]", 5432, "app", TlsMode.REQUIRE)
    assert v6.admits(Binding.of("2001:db8::1", 5432, "app", TlsMode.REQUIRE))


def test_a_password_stored_before_bindings_is_all_password() -> None:
    for legacy in ("plain", '{"json": "but not ours"}', "[1, 2]"):
        stored = unseal(legacy)
        assert stored.password == legacy and stored.binding is None


def test_a_damaged_sealed_value_gives_no_password() -> None:
    with pytest.raises(SecretStoreError, match="damaged"):
        unseal(f'{{"format": "{FORMAT}", "password": "x"}}')


def test_a_password_stored_for_one_address_is_refused_at_another(
    local_store: LocalSecretStore, settings: Settings
) -> None:
    """Whatever the rows say (a move committed, its clean-up not yet, or never, done),
    the pair is checked where the password leaves the store."""
    store_password(local_store, "server-prod", "server-pw", server_binding(_server()))
    database = _own_database()
    store_password(
        local_store, "database-orders", "orders-pw", server_binding(_server(), "orders_app")
    )
    moved = _server(host="impostor.example.net")
    with pytest.raises(CredentialsError, match="entered for another address") as error:
        connection_spec_for(moved, database, local_store, settings)
    assert "orders-pw" not in str(error.value)
    with pytest.raises(CredentialsError, match="entered for another address"):
        server_spec_for(moved, local_store, settings, "orders")
    for changed in (_server(port=3307), _server(tls_mode="prefer"), _server(username="root")):
        with pytest.raises(CredentialsError):
            server_spec_for(changed, local_store, settings, "orders")
    with pytest.raises(CredentialsError):
        connection_spec_for(_server(), _own_database(username="other"), local_store, settings)
    # The right place still works, over stronger TLS too.
    spec = connection_spec_for(_server(), database, local_store, settings)
    assert spec.password_to_send() == "orders-pw"
    stronger = server_spec_for(_server(tls_mode="verify-full"), local_store, settings, "x")
    assert stronger.password_to_send() == "server-pw"


def test_a_spec_copied_to_another_address_refuses_to_send_its_password(
    local_store: LocalSecretStore, settings: Settings
) -> None:
    store_password(local_store, "server-prod", "server-pw", server_binding(_server()))
    spec = server_spec_for(_server(), local_store, settings, "orders")
    assert spec.model_copy(update={"database": "other"}).password_to_send() == "server-pw"
    for update in ({"host": "impostor.example.net"}, {"tls_mode": TlsMode.DISABLE}):
        copied = spec.model_copy(update=update)
        with pytest.raises(EngineError) as error:
            copied.password_to_send()
        assert error.value.kind is ConnectionErrorKind.AUTH_FAILED
        assert "server-pw" not in error.value.message


def test_an_unbound_password_is_bound_where_it_was_in_use(
    local_store: LocalSecretStore, settings: Settings
) -> None:
    local_store.set("server-prod", "legacy-pw")  # as stored before bindings existed
    spec = server_spec_for(_server(), local_store, settings, "x")
    assert spec.password_to_send() == "legacy-pw" and spec.bound_to == server_binding(_server())
    bind_unbound(local_store, "server-prod", server_binding(_server()))
    with pytest.raises(CredentialsError):
        server_spec_for(_server(host="impostor.example.net"), local_store, settings, "x")
    bind_unbound(local_store, "server-prod", server_binding(_server(host="elsewhere")))
    assert unseal(local_store.get("server-prod") or "").binding == server_binding(_server())
    bind_unbound(local_store, "server-missing", HOME)  # nothing stored: nothing to bind
