"""Database passwords: Key Vault on Azure, an encrypted local store in development."""

from shared.secrets.base import (
    InvalidSecretName,
    SecretStore,
    SecretStoreError,
    backup_key_secret_name,
    check_secret_name,
    database_secret_name,
    server_secret_name,
)
from shared.secrets.factory import reset_secret_stores, secret_store_from_settings

__all__ = [
    "InvalidSecretName",
    "SecretStore",
    "SecretStoreError",
    "backup_key_secret_name",
    "check_secret_name",
    "database_secret_name",
    "reset_secret_stores",
    "secret_store_from_settings",
    "server_secret_name",
]
