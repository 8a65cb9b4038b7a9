"""The service's age identities on Azurite tables and the local encrypted secret store:
created once on first use (also when several activities race), rotated, retired."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.data.tables import TableServiceClient

from shared.crypto.age import fingerprint, recipient_of
from shared.crypto.keys import IdentityState, KeyRefused, KeyRing, ServiceIdentity
from shared.secrets.local import LocalSecretStore
from shared.storage.tables import ConcurrencyConflict


@pytest.fixture
def service(storage_connection_string: str, table_prefix: str) -> Iterator[TableServiceClient]:
    client = TableServiceClient.from_connection_string(storage_connection_string)
    yield client
    for table in list(client.list_tables()):
        if table.name.startswith(table_prefix):
            client.delete_table(table.name)


@pytest.fixture
def secrets(service: TableServiceClient, table_prefix: str) -> LocalSecretStore:
    return LocalSecretStore(service, table_prefix, os.urandom(32))


@pytest.fixture
def ring(service: TableServiceClient, table_prefix: str, secrets: LocalSecretStore) -> KeyRing:
    return KeyRing(service, table_prefix, secrets)


def stored_key_secrets(secrets: LocalSecretStore) -> list[str]:
    rows = secrets.table.query_all("PartitionKey eq @pk", {"pk": "secret"})
    return sorted(row["RowKey"] for row in rows if row["RowKey"].startswith("backup-key-"))


class RacingRing(KeyRing):
    """Every creator waits for the others after making its identity, so all of them reach
    the pointer at once: the race the real activities may run."""

    def __init__(self, *args: object, barrier: threading.Barrier) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._barrier = barrier

    def _new_identity(self) -> ServiceIdentity:
        created = super()._new_identity()
        self._barrier.wait(timeout=30)
        return created


def test_the_first_use_creates_one_identity_with_its_secret(
    ring: KeyRing, secrets: LocalSecretStore
) -> None:
    first = ring.current()
    assert first.current and first.state is IdentityState.ACTIVE
    assert ring.current().id == first.id
    secret = ring.secret_of(first.id)
    assert secret is not None and recipient_of(secret) == first.recipient
    assert first.id == fingerprint(first.recipient)
    assert stored_key_secrets(secrets) == [f"backup-key-{first.id}"]


def test_racing_first_uses_converge_on_one_identity(
    service: TableServiceClient, table_prefix: str, secrets: LocalSecretStore
) -> None:
    racers = 4
    barrier = threading.Barrier(racers)
    rings = [RacingRing(service, table_prefix, secrets, barrier=barrier) for _ in range(racers)]
    with ThreadPoolExecutor(racers) as pool:
        chosen = list(pool.map(lambda r: r.current(), rings))
    assert len({identity.id for identity in chosen}) == 1
    [only] = KeyRing(service, table_prefix, secrets).all()
    assert only.id == chosen[0].id and only.current
    assert stored_key_secrets(secrets) == [f"backup-key-{only.id}"]  # losers forgot theirs


def test_rotation_keeps_the_old_identity_for_old_backups(ring: KeyRing) -> None:
    old = ring.current()
    new = ring.rotate()
    assert new.id != old.id and new.current
    assert ring.current().id == new.id
    listed = {identity.id: identity for identity in ring.all()}
    assert set(listed) == {old.id, new.id} and not listed[old.id].current
    assert ring.secret_of(old.id) is not None


def test_concurrent_rotations_cannot_both_win(
    service: TableServiceClient, table_prefix: str, secrets: LocalSecretStore
) -> None:
    KeyRing(service, table_prefix, secrets).current()
    barrier = threading.Barrier(2)
    rings = [RacingRing(service, table_prefix, secrets, barrier=barrier) for _ in range(2)]
    outcomes: list[object] = []

    def rotate(ring: KeyRing) -> None:
        try:
            outcomes.append(ring.rotate())
        except ConcurrencyConflict as exc:
            outcomes.append(exc)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(rotate, rings))
    assert sum(isinstance(o, ConcurrencyConflict) for o in outcomes) == 1
    assert len(KeyRing(service, table_prefix, secrets).all()) == 2  # first + the winner
    assert len(stored_key_secrets(secrets)) == 2


def test_retiring_deletes_the_secret_but_never_the_current_key(
    ring: KeyRing, secrets: LocalSecretStore
) -> None:
    old = ring.current()
    with pytest.raises(KeyRefused, match="rotate"):
        ring.retire(old.id)
    new = ring.rotate()
    retired, outcome = ring.retire(old.id)
    assert retired.state is IdentityState.RETIRED and retired.retired_at is not None
    assert "deleted" in outcome
    assert ring.secret_of(old.id) is None
    assert stored_key_secrets(secrets) == [f"backup-key-{new.id}"]
    assert ring.get(old.id) is not None and ring.get(old.id).state is IdentityState.RETIRED
    with pytest.raises(KeyRefused, match="no key"):
        ring.retire("0000000000000000")


def test_a_pointer_naming_a_missing_key_points_to_a_new_one_without_looping(
    ring: KeyRing, secrets: LocalSecretStore
) -> None:
    """The row of the current key is gone (deleted by hand, a restored table): the first
    use after that used to recurse, making and forgetting identities until the stack ran out."""
    lost = ring.current()
    ring.table.delete("identity", lost.id)
    found = ring.current()
    assert found.id != lost.id and found.current
    assert ring.current().id == found.id
    assert [identity.id for identity in ring.all()] == [found.id]
    assert ring.secret_of(found.id) is not None


def test_a_retired_key_is_marked_before_its_secret_goes(
    ring: KeyRing, secrets: LocalSecretStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup checks the key's row before it reports success: the row must say retired
    by the time the secret is gone, never after."""
    old = ring.current()
    ring.rotate()
    seen: list[IdentityState] = []
    delete = secrets.delete

    def watching_delete(name: str) -> None:
        found = ring.get(old.id)
        assert found is not None
        seen.append(found.state)
        delete(name)

    monkeypatch.setattr(secrets, "delete", watching_delete)
    ring.retire(old.id)
    assert seen == [IdentityState.RETIRED]
