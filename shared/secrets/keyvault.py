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

    def delete(self, name: str) -> None:
        check_secret_name(name)
        try:
            # Waiting until the deletion is visible lets a later `set` recover the name.
            self._client.begin_delete_secret(name).wait()
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise _failure("delete", name, exc) from exc
