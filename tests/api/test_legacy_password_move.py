"""A server password stored before bindings existed (the bare password, no address) never
reaches an address it was not entered for, even when two updates of the server race.

An unbound password counts as entered for the address the server row holds. An update that
failed (its row write lost to a concurrent move) used to put the previous secret back as it
was read: the bare password, which then counted as entered for the new address the other
update had just committed. The rule now: an update first binds an unbound password to the
address it was in use at, so nothing ever writes a bare password back.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from shared.secrets.base import database_secret_name, server_secret_name
from shared.secrets.binding import unseal
from shared.secrets.local import LocalSecretStore
from tests.api.conftest import Api, name, repositories, secret_store
from tests.api.test_backups import finished_job
from tests.impostors import MySqlImpostor, impostor

PAUSE = 1.5  # how long the slowed update holds between its secret write and its row write


async def add_server(api: Api, port: int, password: str) -> None:
    """Server `srv`: MariaDB at 127.0.0.1:`port` as root, TLS off (the impostor has none)."""
    created = await api.call(
        "POST", "servers",
        json={"id": "srv", "name": "s", "engine": "mariadb", "host": "127.0.0.1", "port": port,
              "username": "root", "password": password, "tls_mode": "disable"},
    )  # fmt: skip
    assert created.status == 201, created.text


@pytest.fixture
def slowed_once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Writing a secret whose value holds one of the listed markers sleeps PAUSE, once."""
    markers: list[str] = []
    set_secret = LocalSecretStore.set
    lock = threading.Lock()

    def slow_set(self: LocalSecretStore, secret_name: str, value: str) -> None:
        set_secret(self, secret_name, value)
        with lock:
            hit = next((marker for marker in markers if marker in value), None)
            if hit is not None:
                markers.remove(hit)
        if hit is not None:
            time.sleep(PAUSE)

    monkeypatch.setattr(LocalSecretStore, "set", slow_set)
    return markers


async def test_a_failed_update_never_puts_back_a_bare_password_after_a_move(
    api: Api, api_env: dict[str, str], slowed_once: list[str]
) -> None:
    with (
        impostor(MySqlImpostor) as old,
        impostor(MySqlImpostor, host="127.0.0.2") as new,
    ):
        legacy, replaced, moved_pw = (f"{kind}-{name()}" for kind in ("legacy", "p3", "p2"))
        await add_server(api, old.port, "entered-later")
        # As stored before bindings existed: the bare password.
        store = secret_store(api_env)
        store.set(server_secret_name("srv"), legacy)
        assert unseal(store.get(server_secret_name("srv")) or "").binding is None

        # A: a new password at the same address; it stalls after writing the secret.
        slowed_once.append(replaced)
        same_place = asyncio.ensure_future(
            api.call("PATCH", "servers/srv", json={"password": replaced})
        )
        await asyncio.sleep(PAUSE / 3)
        # B: meanwhile the server moves to the new address with a password entered for it.
        move = {"host": "127.0.0.2", "port": new.port, "password": moved_pw}
        moved = await api.call("PATCH", "servers/srv", json=move)
        assert moved.status == 200, moved.text
        lost = await same_place
        assert lost.status in (409, 412), lost.text  # its row write lost to the move

        server = repositories(api_env).servers.get("srv")
        assert server is not None and server.port == new.port
        tested = await api.call("POST", "servers/srv/test", "operator")
        # Whatever the store holds now, the legacy password never goes to the new address.
        assert not new.captured(legacy), "the bare legacy password reached the new address"
        assert not new.captured(replaced)
        # The lost update put back the old password bound to the old address: refused here,
        # with the reason to give.
        assert tested.status == 409, tested.text
        assert "enter it again" in tested.json()["error"]["message"]
        stored = unseal(store.get(server_secret_name("srv")) or "")
        assert stored.binding is not None, "a bare password was written back"


async def test_legacy_database_passwords_stay_at_the_old_address_after_a_move(
    api: Api, api_env: dict[str, str]
) -> None:
    """A database's own password stored bare: the move binds it to the old address before
    the row changes, then forgets it; a backup at the new address never gets it."""
    with (
        impostor(MySqlImpostor) as old,
        impostor(MySqlImpostor, host="127.0.0.2") as new,
    ):
        await add_server(api, old.port, "server-pw")
        database = await api.call(
            "POST", "databases",
            json={"id": "db", "server_id": "srv", "name": "d", "use_server_credentials": False,
                  "username": "own", "password": "entered-later"},
        )  # fmt: skip
        assert database.status == 201, database.text
        legacy_server, legacy_database = f"legacy-s-{name()}", f"legacy-d-{name()}"
        store = secret_store(api_env)
        store.set(server_secret_name("srv"), legacy_server)
        store.set(database_secret_name("db"), legacy_database)

        move = {"host": "127.0.0.2", "port": new.port, "password": f"new-{name()}"}
        moved = await api.call("PATCH", "servers/srv", json=move)
        assert moved.status == 200, moved.text
        tested = await api.call("POST", "servers/srv/test", "operator")
        assert tested.status == 200, tested.text
        backup = await api.call("POST", "databases/db/backups", "operator")
        if backup.status == 202:
            await finished_job(api, backup.json())
        assert not new.captured(legacy_server) and not new.captured(legacy_database)
        assert new.connections > 0  # the test did go to the new address
