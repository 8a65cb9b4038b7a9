"""The secret store the settings ask for, one per process."""

from __future__ import annotations

import threading

from shared.secrets.base import SecretStore
from shared.settings import SecretStoreKind, Settings

_lock = threading.Lock()
# Keyed by the (frozen, hashable) settings themselves: equal settings share a store.
_stores: dict[Settings, SecretStore] = {}


def _build(settings: Settings) -> SecretStore:
    if settings.secret_store is SecretStoreKind.KEYVAULT:
        from shared.secrets.keyvault import KeyVaultSecretStore
        from shared.storage.clients import default_credential

        assert settings.key_vault_url is not None  # guaranteed by Settings
        return KeyVaultSecretStore(settings.key_vault_url, default_credential())
    from shared.secrets.local import LocalSecretStore
    from shared.secrets.local_key import load_key
    from shared.storage.clients import table_service_client

    secret = settings.local_secret_key
    key = load_key(secret.get_secret_value() if secret else None, settings.local_secret_key_file)
    return LocalSecretStore(table_service_client(settings), settings.table_prefix, key)


def secret_store_from_settings(settings: Settings) -> SecretStore:
    with _lock:
        if settings not in _stores:
            _stores[settings] = _build(settings)
        return _stores[settings]


def reset_secret_stores() -> None:
    """Forget cached stores (tests switch settings)."""
    with _lock:
        _stores.clear()
