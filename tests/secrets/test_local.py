"""The local store: AES-GCM sealed secrets in an Azurite table, and its key file."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from shared.secrets import (
    SecretStoreError,
    local_key,
    reset_secret_stores,
    secret_store_from_settings,
)
from shared.secrets.local import PARTITION, LocalSecretStore
from shared.secrets.local_key import PROJECT_ROOT, load_key
from shared.settings import load_settings

PASSWORD = "correct horse 'battery' staple ✓"


def _raw(store: LocalSecretStore, name: str) -> dict:
    entity = store.table.get(PARTITION, name)
    assert entity is not None
    return entity


def test_round_trip_and_delete(local_store: LocalSecretStore) -> None:
    assert local_store.get("server-pg") is None
    local_store.set("server-pg", PASSWORD)
    assert local_store.get("server-pg") == PASSWORD
    local_store.set("server-pg", "changed")
    assert local_store.get("server-pg") == "changed"
    local_store.delete("server-pg")
    assert local_store.get("server-pg") is None
    local_store.delete("server-pg")  # deleting again is quiet


def test_the_table_never_holds_plaintext(local_store: LocalSecretStore) -> None:
    local_store.set("server-pg", PASSWORD)
    local_store.set("database-shop", PASSWORD)
    first, second = _raw(local_store, "server-pg"), _raw(local_store, "database-shop")
    for entity in (first, second):
        for value in entity.values():
            text = value if isinstance(value, bytes) else str(value).encode()
            assert PASSWORD.encode() not in text
            assert b"battery" not in text
    assert first["ciphertext"] != second["ciphertext"]  # fresh nonce each time
    assert first["nonce"] != second["nonce"]


def test_tampered_ciphertext_fails(local_store: LocalSecretStore) -> None:
    local_store.set("server-pg", PASSWORD)
    entity = _raw(local_store, "server-pg")
    flipped = bytearray(entity["ciphertext"])
    flipped[0] ^= 0x01
    entity["ciphertext"] = bytes(flipped)
    local_store.table.upsert(entity)
    with pytest.raises(SecretStoreError, match="server-pg failed its integrity check") as error:
        local_store.get("server-pg")
    assert PASSWORD not in str(error.value)


def test_ciphertext_moved_to_another_name_fails(local_store: LocalSecretStore) -> None:
    """The name is associated data: a swapped row cannot pass for another secret."""
    local_store.set("server-a", PASSWORD)
    moved = {**_raw(local_store, "server-a"), "RowKey": "server-b"}
    local_store.table.upsert(moved)
    with pytest.raises(SecretStoreError, match="integrity"):
        local_store.get("server-b")


def test_another_key_cannot_read(
    local_store: LocalSecretStore, table_service: TableServiceClient, table_prefix: str
) -> None:
    local_store.set("server-pg", PASSWORD)
    other = LocalSecretStore(table_service, table_prefix, os.urandom(32))
    with pytest.raises(SecretStoreError, match="another local secret key"):
        other.get("server-pg")


def test_names_are_checked(local_store: LocalSecretStore) -> None:
    with pytest.raises(ValueError, match="not one of ours"):
        local_store.set("anything", "x")


# --- the key --------------------------------------------------------------------------


def test_key_file_is_generated_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "config" / "dilux-backup" / "secret.key"
    key = load_key(None, key_file)
    assert len(key) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert load_key(None, key_file) == key


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    load_key(None, key_file)
    key_file.chmod(0o644)
    with pytest.raises(SecretStoreError, match="readable by others"):
        load_key(None, key_file)


def test_a_key_file_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "secret.key"
    key = load_key(None, key_file)
    owner = key_file.stat().st_uid
    monkeypatch.setattr(local_key.os, "geteuid", lambda: owner + 1)  # we are someone else
    with pytest.raises(SecretStoreError, match="belongs to another user"):
        load_key(None, key_file)
    monkeypatch.undo()
    assert load_key(None, key_file) == key


def test_a_key_file_inside_the_project_is_refused() -> None:
    inside = PROJECT_ROOT / ".state" / "never-created.key"
    with pytest.raises(SecretStoreError, match="inside the project folder"):
        load_key(None, inside)
    assert not inside.exists()


def test_key_from_the_setting(tmp_path: Path) -> None:
    raw = os.urandom(32)
    assert load_key(base64.b64encode(raw).decode(), tmp_path / "unused.key") == raw
    assert not (tmp_path / "unused.key").exists()
    for bad in ["not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(SecretStoreError, match="LOCAL_SECRET_KEY"):
            load_key(bad, tmp_path / "unused.key")


@pytest.fixture
def fresh_stores() -> Iterator[None]:
    reset_secret_stores()
    yield
    reset_secret_stores()


def test_store_from_settings(
    fresh_stores: None,
    storage_connection_string: str,
    table_service: TableServiceClient,
    table_prefix: str,
    tmp_path: Path,
) -> None:
    settings = load_settings(
        backup_storage_connection_string=storage_connection_string,
        secret_store="local",
        table_prefix=table_prefix,
        local_secret_key_file=tmp_path / "secret.key",
    )
    store = secret_store_from_settings(settings)
    try:
        assert isinstance(store, LocalSecretStore)
        assert secret_store_from_settings(settings) is store
        store.set("server-pg", PASSWORD)
        assert store.get("server-pg") == PASSWORD
        assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    finally:
        table_service.delete_table(f"{table_prefix}secrets")


def test_key_vault_store_from_settings(fresh_stores: None) -> None:
    from shared.secrets.keyvault import KeyVaultSecretStore

    settings = load_settings(
        backup_storage_account_name="prodbackups",
        backup_storage_connection_string=None,
        secret_store="keyvault",
        key_vault_url="https://dilux.vault.azure.net",
    )
    assert isinstance(secret_store_from_settings(settings), KeyVaultSecretStore)
