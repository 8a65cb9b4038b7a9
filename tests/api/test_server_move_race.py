"""Moving a server while backups and connection tests start: no password ever reaches an
address it was not entered for (issue 10, section 3).

Both addresses are impostors that record what they receive. The server password P1 and
the databases' own passwords were entered for the old address, P2 for the new one. The
move (a PATCH with P2) runs while every database's backup and several connection tests
start. The secret store is slowed down (the app runs in this process), which widens the
windows a move used to leave open: after the new password is written and before the row
says where it goes, and after the row moved and before the databases' passwords are
deleted. The new address must never see P1 or a database password, the old address
never P2.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from shared.secrets.local import LocalSecretStore
from tests.api.conftest import Api, name
from tests.api.test_backups import finished_job
from tests.impostors import MySqlImpostor, impostor

pytestmark = pytest.mark.asyncio

DATABASES = 8
ROUNDS = 2
PAUSE = 0.25  # each secret write and delete, while the move runs


@pytest.fixture
def slow_secret_store(monkeypatch: pytest.MonkeyPatch) -> None:
    set_secret, delete_secret = LocalSecretStore.set, LocalSecretStore.delete

    def slow_set(self: LocalSecretStore, secret_name: str, value: str) -> None:
        set_secret(self, secret_name, value)
        time.sleep(PAUSE)

    def slow_delete(self: LocalSecretStore, secret_name: str) -> None:
        time.sleep(PAUSE)
        delete_secret(self, secret_name)

    monkeypatch.setattr(LocalSecretStore, "set", slow_set)
    monkeypatch.setattr(LocalSecretStore, "delete", slow_delete)


async def _server_with_databases(api: Api, port: int, password: str) -> tuple[str, dict]:
    server = await api.call(
        "POST", "servers",
        json={"name": "moving", "engine": "mariadb", "host": "127.0.0.1", "port": port,
              "username": "root", "password": password, "tls_mode": "disable"},
    )  # fmt: skip
    assert server.status == 201, server.text
    server_id = server.json()["id"]
    passwords: dict[str, str] = {}
    for index in range(DATABASES):
        own = "db-pw-" + name()
        created = await api.call(
            "POST", "databases",
            json={"server_id": server_id, "name": f"db{index}", "use_server_credentials": False,
                  "username": f"user{index}", "password": own},
        )  # fmt: skip
        assert created.status == 201, created.text
        passwords[created.json()["id"]] = own
    return server_id, passwords


async def _later(delay: float, call: Awaitable[Any]) -> Any:
    await asyncio.sleep(delay)
    return await call


async def test_moving_a_server_never_pairs_a_password_with_the_other_address(
    api: Api, slow_secret_store: None
) -> None:
    for round_number in range(ROUNDS):
        with (
            impostor(MySqlImpostor) as old,
            impostor(MySqlImpostor, host="127.0.0.2") as new,
        ):
            first, second = "server-pw-1-" + name(), "server-pw-2-" + name()
            server_id, passwords = await _server_with_databases(api, old.port, first)
            move = {"host": "127.0.0.2", "port": new.port, "password": second}
            # Spread over the whole move (about (DATABASES + 1) * PAUSE), shifted each round.
            step = PAUSE * (DATABASES + 1) / (DATABASES + 2)
            offset = PAUSE / 2 * round_number
            backups = [
                _later(offset + i * step, api.call("POST", f"databases/{d}/backups", "operator"))
                for i, d in enumerate(passwords)
            ]
            tests = [
                _later(offset + i * step, api.call("POST", f"servers/{server_id}/test", "operator"))
                for i in range(DATABASES)
            ]
            moved, *answers = await asyncio.gather(
                api.call("PATCH", f"servers/{server_id}", json=move), *backups, *tests
            )
            assert moved.status == 200, moved.text
            for answer in answers[:DATABASES]:
                assert answer.status == 202, answer.text
                await finished_job(api, answer.json())
            # The requests reached the servers (which address, depends on the machine's load).
            assert old.connections + new.connections > 0
            leaked = [pw for pw in [first, *passwords.values()] if new.captured(pw)]
            assert not leaked, f"round {round_number}: {len(leaked)} reached the new address"
            assert not old.captured(second), f"round {round_number}: P2 reached the old address"
