"""The service's own age identities: created on first use, rotated, retired (crypto-shredding).

Each identity's secret (`AGE-SECRET-KEY-1…`) lives in the secret store as
`backup-key-<id>` (Key Vault on Azure, the local encrypted store in development); its
public key (the recipient), state and dates live in the table `<prefix>keys`, so taking a
backup reads public keys only. One row names the current identity; new backups are
encrypted to it. Old identities stay for the backups encrypted to them.

Race-safe creation: the creator stores the secret, then the identity's row, then the
pointer with create-if-absent. Whoever loses that last race forgets its own identity
(nothing was ever encrypted to it) and takes the winner's. Rotation moves the pointer
with an etag check, so two concurrent rotations cannot both win silently.

Retiring deletes the identity's secret (and purges it where the store allows): every
backup encrypted only to it becomes unreadable, except to holders of its extra recipients.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.data.tables import TableServiceClient

from shared.crypto.age import fingerprint, generate_identity
from shared.models import Model
from shared.secrets.base import SecretStore, backup_key_secret_name
from shared.storage.tables import AlreadyExists, ConcurrencyConflict, EntityTable

IDENTITIES = "identity"
POINTER = ("current", "current")
# Rounds of reading the pointer before giving up: each lost round means another writer won.
_CURRENT_ROUNDS = 5


class IdentityState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class ServiceIdentity(Model):
    """One age identity of the service; the secret itself is never on this model."""

    id: str
    recipient: str
    state: IdentityState = IdentityState.ACTIVE
    created_at: datetime
    retired_at: datetime | None = None
    current: bool = False


class KeyRefused(Exception):
    """A key operation that cannot be done as asked; the message names ids, never secrets."""


class KeyRing:
    def __init__(self, service: TableServiceClient, prefix: str, secrets: SecretStore) -> None:
        self.table = EntityTable(service, f"{prefix}keys")
        self._secrets = secrets

    @classmethod
    def from_settings(cls, settings: Any, secrets: SecretStore) -> KeyRing:
        from shared.storage.clients import table_service_client

        return cls(table_service_client(settings), settings.table_prefix, secrets)

    # --- reads -----------------------------------------------------------------------

    def get(self, identity_id: str) -> ServiceIdentity | None:
        entity = self.table.get(IDENTITIES, identity_id)
        return None if entity is None else self._identity(entity, self._current_id())

    def all(self) -> list[ServiceIdentity]:
        current = self._current_id()
        found = self.table.query_all("PartitionKey eq @pk", {"pk": IDENTITIES})
        rows = [self._identity(entity, current) for entity in found]
        return sorted(rows, key=lambda row: row.created_at, reverse=True)

    def secret_of(self, identity_id: str) -> str | None:
        """The identity's secret, or None once it was retired (or never existed)."""
        return self._secrets.get(backup_key_secret_name(identity_id))

    def current(self) -> ServiceIdentity:
        """The identity new backups are encrypted to, created on first use. A pointer that
        names a key without a row (deleted by hand, a table restored from a copy) is moved
        to a new key, guarded by its etag like a rotation; racing first uses and repairs
        converge on one winner within a few rounds, never by recursion."""
        for _ in range(_CURRENT_ROUNDS):
            found = self.table.get_with_etag(*POINTER)
            if found is None:
                created = self._create_first()
                if created is not None:
                    return created
                continue  # another instance won the pointer: read its choice
            pointer, etag = found
            identity = self.get(pointer["identity_id"])
            if identity is not None:
                return identity
            try:
                return self._point_to_new(pointer, etag)
            except ConcurrencyConflict:
                continue  # another instance repaired it first: read its choice
        raise KeyRefused("the current key keeps changing under concurrent writers: try again")

    # --- changes ---------------------------------------------------------------------

    def rotate(self) -> ServiceIdentity:
        """A new identity for new backups; the old ones stay for the old backups."""
        found = self.table.get_with_etag(*POINTER)
        if found is None:
            return self._create_first() or self.current()
        return self._point_to_new(*found)

    def retire(self, identity_id: str) -> tuple[ServiceIdentity, str]:
        """Deletes the identity's secret (purged where allowed) and marks it retired.
        Returns the identity and what happened to its secret. The current identity cannot
        be retired: rotate first."""
        found = self.get(identity_id)
        if found is None:
            raise KeyRefused(f"no key {identity_id!r}")
        if found.current:
            raise KeyRefused(f"key {identity_id!r} is the current key: rotate before retiring it")
        # Marked retired first: a backup that checks its key before reporting success
        # (activities/backup.py) then never sees a live key whose secret is already gone.
        # A retirement cut short after the mark is finished by retiring again.
        retired_at = found.retired_at or datetime.now(UTC)
        entity = self.table.get(IDENTITIES, identity_id) or {}
        self.table.upsert(
            {**entity, "state": IdentityState.RETIRED.value, "retired_at": retired_at}
        )
        name = backup_key_secret_name(identity_id)
        self._secrets.delete(name)
        outcome = "deleted from the local secret store"
        purge = getattr(self._secrets, "purge", None)
        if purge is not None:
            outcome = purge(name)
        update = {"state": IdentityState.RETIRED, "retired_at": retired_at}
        return found.model_copy(update=update), outcome

    # --- inside ----------------------------------------------------------------------

    def _current_id(self) -> str | None:
        pointer = self.table.get(*POINTER)
        return None if pointer is None else str(pointer["identity_id"])

    def _create_first(self) -> ServiceIdentity | None:
        """A new identity and the pointer to it; None (its identity forgotten: nothing was
        ever encrypted to it) when another instance created the pointer first."""
        created = self._new_identity()
        try:
            self.table.create(
                {"PartitionKey": POINTER[0], "RowKey": POINTER[1], "identity_id": created.id}
            )
        except AlreadyExists:
            self._forget(created.id)
            return None
        return created.model_copy(update={"current": True})

    def _point_to_new(self, pointer: dict[str, Any], etag: str) -> ServiceIdentity:
        """A new identity, and the pointer read at `etag` moved to it; ConcurrencyConflict
        (the new identity forgotten) when someone moved the pointer meanwhile."""
        created = self._new_identity()
        try:
            self.table.update({**pointer, "identity_id": created.id}, etag)
        except ConcurrencyConflict:
            self._forget(created.id)
            raise
        return created.model_copy(update={"current": True})

    def _new_identity(self) -> ServiceIdentity:
        """Secret first, then its row: a row never names an identity without a secret."""
        secret, recipient = generate_identity()
        identity_id = fingerprint(recipient)
        self._secrets.set(backup_key_secret_name(identity_id), secret)
        created = ServiceIdentity(id=identity_id, recipient=recipient, created_at=datetime.now(UTC))
        self.table.create(
            {
                "PartitionKey": IDENTITIES,
                "RowKey": identity_id,
                "recipient": recipient,
                "state": created.state.value,
                "created_at": created.created_at,
            }
        )
        return created

    def _forget(self, identity_id: str) -> None:
        with contextlib.suppress(Exception):
            self._secrets.delete(backup_key_secret_name(identity_id))
        self.table.delete(IDENTITIES, identity_id)

    @staticmethod
    def _identity(entity: dict[str, Any], current: str | None) -> ServiceIdentity:
        return ServiceIdentity(
            id=entity["RowKey"],
            recipient=entity["recipient"],
            state=IdentityState(entity.get("state", IdentityState.ACTIVE.value)),
            created_at=entity["created_at"],
            retired_at=entity.get("retired_at"),
            current=entity["RowKey"] == current,
        )
