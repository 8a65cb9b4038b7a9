"""A local encrypted secret store for the emulator and development.

Each secret is sealed with AES-256-GCM under a fresh 96-bit nonce, with the secret's
name as associated data (a ciphertext moved to another name does not decrypt), and
kept in the table `<prefix>secrets`. Plaintext never touches the table or a file.
"""

from __future__ import annotations

import hashlib
import os

from azure.data.tables import TableServiceClient
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.secrets.base import SecretStoreError, check_secret_name
from shared.storage.tables import EntityTable

PARTITION = "secret"
FORMAT_VERSION = 1


def key_id(key: bytes) -> str:
    """A short fingerprint telling which key sealed a secret (not the key itself)."""
    return hashlib.sha256(b"dilux-local-secret-key" + key).hexdigest()[:16]


class LocalSecretStore:
    def __init__(self, service: TableServiceClient, prefix: str, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._key_id = key_id(key)
        self.table = EntityTable(service, f"{prefix}secrets")

    def get(self, name: str) -> str | None:
        check_secret_name(name)
        entity = self.table.get(PARTITION, name)
        if entity is None:
            return None
        if entity.get("key_id") != self._key_id:
            raise SecretStoreError(f"{name} was sealed with another local secret key")
        try:
            plain = self._aead.decrypt(entity["nonce"], entity["ciphertext"], name.encode())
        except (InvalidTag, KeyError, TypeError):
            raise SecretStoreError(f"{name} failed its integrity check") from None
        return plain.decode()

    def set(self, name: str, value: str) -> None:
        check_secret_name(name)
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), name.encode())
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": name,
            "version": FORMAT_VERSION,
            "key_id": self._key_id,
            "nonce": nonce,
            "ciphertext": sealed,
        }
        self.table.upsert(entity)

    def delete(self, name: str) -> None:
        check_secret_name(name)
        self.table.delete(PARTITION, name)
