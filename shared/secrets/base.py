"""The one interface for database passwords, and the only way secret names are made.

Names are derived on the server side from ids we issued (`server-<id>`,
`database-<id>`), never taken from a request, so a caller cannot read or overwrite
an arbitrary secret of the vault.
"""

from __future__ import annotations

import re
from typing import Protocol

from shared.models import ID_PATTERN

_ID = re.compile(ID_PATTERN)
SECRET_NAME_PATTERN = re.compile(r"^(server|database|backup-key)-[a-z0-9][a-z0-9-]{0,62}$")


class SecretStoreError(Exception):
    """The store failed; the message names the secret, never its value."""


class InvalidSecretName(SecretStoreError, ValueError):
    """A name that our own naming functions would never produce."""


class SecretStore(Protocol):
    def get(self, name: str) -> str | None:
        """The secret's value, or None if there is none."""
        ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None:
        """Removes the secret; deleting a missing secret is not an error."""
        ...


def _checked_id(kind: str, value: str) -> str:
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise InvalidSecretName(f"invalid {kind} id for a secret name")
    return value


def server_secret_name(server_id: str) -> str:
    return f"server-{_checked_id('server', server_id)}"


def database_secret_name(database_id: str) -> str:
    return f"database-{_checked_id('database', database_id)}"


def backup_key_secret_name(identity_id: str) -> str:
    """The secret holding one of the service's age identities (shared/crypto/keys.py)."""
    return f"backup-key-{_checked_id('key', identity_id)}"


def check_secret_name(name: str) -> str:
    """Stores accept only names made by the functions above."""
    if not isinstance(name, str) or SECRET_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidSecretName("secret name is not one of ours")
    return name
