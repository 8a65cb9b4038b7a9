"""Secrets in Azure Key Vault, read by the Function App's managed identity.

Key Vault keeps deleted secrets (soft delete) and refuses a new secret of the same
name until it is recovered or purged. Purging needs a permission we do not ask for,
so `set` recovers a deleted secret and writes a new version over it.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from shared.secrets.base import SecretStoreError, check_secret_name


def _failure(action: str, name: str, exc: AzureError) -> SecretStoreError:
    """Our error for an SDK failure: HTTP reason or error kind, never a request body."""
    reason = exc.reason if isinstance(exc, HttpResponseError) else type(exc).__name__
    return SecretStoreError(f"Key Vault could not {action} {name}: {reason}")


class KeyVaultSecretStore:
    def __init__(self, vault_url: str, credential: Any = None, **client_options: Any) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self._client = SecretClient(vault_url, credential, **client_options)

    def get(self, name: str) -> str | None:
        check_secret_name(name)
        try:
            return self._client.get_secret(name).value
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise _failure("read", name, exc) from exc

    def set(self, name: str, value: str) -> None:
        check_secret_name(name)
        try:
            self._set(name, value)
        except AzureError as exc:
            raise _failure("write", name, exc) from exc

    def _set(self, name: str, value: str) -> None:
        try:
            self._client.set_secret(name, value, content_type="password")
        except HttpResponseError as exc:
            if exc.status_code != 409:
                raise
            # Deleted but recoverable: bring the name back, then write the new value.
            self._client.begin_recover_deleted_secret(name).wait()
            self._client.set_secret(name, value, content_type="password")

    def purge(self, name: str) -> str:
        """Purges a deleted secret; says what became of it. With purge protection (the
        template turns it on) Key Vault refuses: the secret stays soft-deleted, recoverable
        by a vault administrator until the vault's soft-delete retention ends."""
        check_secret_name(name)
        try:
            self._client.purge_deleted_secret(name)
        except ResourceNotFoundError:
            return "deleted from Key Vault (nothing left to purge)"
        except HttpResponseError as exc:
            if exc.status_code in (400, 403, 409):
                return (
                    "deleted from Key Vault; the vault refused to purge it (purge protection), "
                    "so it stays soft-deleted and recoverable by a vault administrator until "
                    "the soft-delete retention period ends"
                )
            raise _failure("purge", name, exc) from exc
        except AzureError as exc:
            raise _failure("purge", name, exc) from exc
        return "deleted and purged from Key Vault"

    def delete(self, name: str) -> None:
        check_secret_name(name)
        try:
            # Waiting until the deletion is visible lets a later `set` recover the name.
            self._client.begin_delete_secret(name).wait()
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise _failure("delete", name, exc) from exc
