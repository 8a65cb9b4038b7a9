"""Builds what activities need (settings, repositories, blob store, secrets) once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.settings import Settings, get_settings
from shared.storage.blobs import AzureBlobStore, backup_store
from shared.storage.repositories import Repositories


@dataclass(frozen=True)
class Services:
    settings: Settings
    repositories: Repositories
    blobs: AzureBlobStore

    @property
    def secrets(self) -> Any:
        from shared.secrets import secret_store_from_settings

        return secret_store_from_settings(self.settings)

    @property
    def keys(self) -> Any:
        """The service's age identities (shared/crypto/keys.py)."""
        from shared.crypto.keys import KeyRing

        return KeyRing.from_settings(self.settings, self.secrets)


@lru_cache(maxsize=1)
def services() -> Services:
    settings = get_settings()
    return Services(
        settings=settings,
        repositories=Repositories.from_settings(settings),
        blobs=backup_store(settings),
    )
