"""The storage, secrets and blobs the routes use, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from http_api.probes import ProbeRate
from shared.audit import DenialWindows, ProbeWindows
from shared.models import AuditEntry
from shared.settings import Settings, get_settings
from shared.storage.repositories import Repositories


@dataclass
class Services:
    settings: Settings
    repos: Repositories
    _secrets: Any = field(default=None, repr=False)
    policies_seeded: bool = False
    # Refused callers, one audit entry per caller and action per minute (http_api/operations.py).
    denials: DenialWindows = field(default_factory=DenialWindows)
    # Connection tests and discoveries: a rate per caller, and their audit entries
    # aggregated past the first few per caller and window (http_api/probes.py).
    probe_rate: ProbeRate = field(default_factory=ProbeRate)
    probe_audit: ProbeWindows = field(default_factory=ProbeWindows)

    @property
    def secrets(self) -> Any:
        """The SecretStore (Key Vault or local), built on first use."""
        if self._secrets is None:
            from shared.secrets import secret_store_from_settings

            self._secrets = secret_store_from_settings(self.settings)
        return self._secrets

    def keys(self) -> Any:
        """The service's age identities (shared/crypto/keys.py)."""
        from shared.crypto.keys import KeyRing

        return KeyRing.from_settings(self.settings, self.secrets)

    def blobs(self) -> Any:
        from shared.storage.blobs import backup_store

        return backup_store(self.settings)

    def append_audit(self, entry: AuditEntry) -> None:
        self.repos.audit.append(entry)


@lru_cache(maxsize=1)
def services() -> Services:
    settings = get_settings()
    return Services(settings=settings, repos=Repositories.from_settings(settings))
