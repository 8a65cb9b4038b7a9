"""KeyVaultSecretStore through the real azure-keyvault-secrets SDK, over HTTPS, to a
local stand-in that answers the bearer challenge and the secret endpoints."""

from __future__ import annotations

import pytest

from shared.secrets import SecretStoreError
from shared.secrets.keyvault import KeyVaultSecretStore
from tests.secrets.keyvault_standin import (
    RESOURCE,
    TENANT,
    FakeCredential,
    KeyVaultStandIn,
)

PASSWORD = "s3cr3t 'quoted' \"and\" ünïcode"


def test_round_trip_through_the_bearer_challenge(
    vault_store: KeyVaultSecretStore, standin: KeyVaultStandIn, credential: FakeCredential
) -> None:
    assert vault_store.get("server-pg") is None
    vault_store.set("server-pg", PASSWORD)
    assert vault_store.get("server-pg") == PASSWORD

    first, second = standin.vault.requests[:2]
    assert first["authorization"] is None and first["body"] == b""
    assert second["authorization"] == f"Bearer {credential.token}"
    assert credential.calls[0] == {"scopes": (f"{RESOURCE}/.default",), "tenant_id": TENANT}
    assert all(r["authorization"] for r in standin.vault.requests[1:])


def test_the_password_travels_only_in_request_bodies(
    vault_store: KeyVaultSecretStore, standin: KeyVaultStandIn
) -> None:
    vault_store.set("database-shop", PASSWORD)
    puts = [r for r in standin.vault.requests if r["method"] == "PUT" and r["body"]]
    assert len(puts) == 1
    assert all(PASSWORD not in r["path"] for r in standin.vault.requests)
    assert all("shop" in r["path"] for r in puts)


def test_set_overwrites_with_a_new_version(vault_store: KeyVaultSecretStore) -> None:
    vault_store.set("server-pg", "one")
    vault_store.set("server-pg", "two")
    assert vault_store.get("server-pg") == "two"


def test_delete_then_set_recovers_the_soft_deleted_name(
    vault_store: KeyVaultSecretStore, standin: KeyVaultStandIn
) -> None:
    vault_store.set("server-pg", "old")
    vault_store.delete("server-pg")
    assert vault_store.get("server-pg") is None
    assert "server-pg" in standin.vault.deleted

    vault_store.set("server-pg", "new")
    assert vault_store.get("server-pg") == "new"
    paths = [(r["method"], r["path"].split("?")[0]) for r in standin.vault.requests]
    assert ("POST", "/deletedsecrets/server-pg/recover") in paths


def test_deleting_a_missing_secret_is_quiet(vault_store: KeyVaultSecretStore) -> None:
    vault_store.delete("server-never-set")
    assert vault_store.get("server-never-set") is None


def test_names_are_checked_before_any_request(
    vault_store: KeyVaultSecretStore, standin: KeyVaultStandIn
) -> None:
    for bad in ["admin-password", "server-../x", "SERVER-x"]:
        with pytest.raises(ValueError, match="not one of ours"):
            vault_store.get(bad)
        with pytest.raises(ValueError, match="not one of ours"):
            vault_store.set(bad, "x")
    assert standin.vault.requests == []


def test_a_rejected_token_is_a_clear_error(standin: KeyVaultStandIn) -> None:
    store = KeyVaultSecretStore(
        standin.url,
        FakeCredential(token="wrong-token"),
        connection_verify=str(standin.ca_file),
        verify_challenge_resource=False,
    )
    with pytest.raises(SecretStoreError, match="could not write server-pg") as error:
        store.set("server-pg", PASSWORD)
    assert PASSWORD not in str(error.value)
    assert standin.vault.secrets == {}


def test_tls_is_verified(standin: KeyVaultStandIn) -> None:
    """Without our test CA, the SDK refuses the stand-in's certificate."""
    store = KeyVaultSecretStore(
        standin.url, FakeCredential(), verify_challenge_resource=False, retry_total=0
    )
    with pytest.raises(SecretStoreError, match="could not read server-pg") as error:
        store.get("server-pg")
    assert "CERTIFICATE_VERIFY_FAILED" in repr(error.value.__cause__)
    assert standin.vault.requests == []


def test_purge_with_purge_protection_leaves_the_secret_soft_deleted(
    vault_store: KeyVaultSecretStore, standin: KeyVaultStandIn
) -> None:
    """What crypto-shredding gets from a vault with purge protection (the template's):
    the secret is deleted but stays recoverable until the soft-delete retention ends."""
    vault_store.set("backup-key-k1", "AGE-SECRET-KEY-1XYZ")
    vault_store.delete("backup-key-k1")
    outcome = vault_store.purge("backup-key-k1")
    assert "refused to purge" in outcome and "recoverable" in outcome
    assert "backup-key-k1" in standin.vault.deleted
    assert vault_store.get("backup-key-k1") is None


def test_purge_without_purge_protection_removes_the_secret(
    vault_store: KeyVaultSecretStore, standin: KeyVaultStandIn
) -> None:
    standin.vault.purge_protection = False
    vault_store.set("backup-key-k2", "AGE-SECRET-KEY-1XYZ")
    vault_store.delete("backup-key-k2")
    assert vault_store.purge("backup-key-k2") == "deleted and purged from Key Vault"
    assert "backup-key-k2" not in standin.vault.deleted
    purges = [r for r in standin.vault.requests if r["method"] == "DELETE"]
    assert purges[-1]["path"].startswith("/deletedsecrets/backup-key-k2")
