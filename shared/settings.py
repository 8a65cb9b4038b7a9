"""The app's configuration, read once from the environment.

Field names are the lower-case environment variable names (DEVELOPERS.md lists them).
A missing or invalid setting fails at start-up with a `SettingsError` naming the
variable, never its value (the connection string and the local key are secrets).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.entra_tokens import DEFAULT_HOSTS as DEFAULT_ENTRA_HOSTS
from shared.entra_tokens import DEFAULT_SCOPE as DEFAULT_ENTRA_SCOPE

DEFAULT_LOCAL_SECRET_KEY_FILE = Path("~/.config/dilux-backup/secret.key")

# Azure table names: alphanumeric, starting with a letter; the longest suffix we add
# is "databases" (9), and table names end at 63 characters.
TABLE_PREFIX_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,53}$")
# Blob container names: 3-63 of lower-case letters, digits and single hyphens.
CONTAINER_PATTERN = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
ACCOUNT_NAME_PATTERN = re.compile(r"^[a-z0-9]{3,24}$")


class SecretStoreKind(StrEnum):
    KEYVAULT = "keyvault"
    LOCAL = "local"


class AuthMode(StrEnum):
    ENTRA = "entra"
    DEVELOPMENT = "development"


class ImmutabilityMode(StrEnum):
    LOCKED = "locked"
    UNLOCKED = "unlocked"


class SettingsError(ValueError):
    """The environment does not describe a usable configuration."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # --- storage ---------------------------------------------------------------------
    backup_storage_connection_string: SecretStr | None = None
    backup_storage_account_name: str | None = None
    backup_container: str = "backups"
    table_prefix: str = "dilux"

    # --- secrets ---------------------------------------------------------------------
    secret_store: SecretStoreKind = SecretStoreKind.KEYVAULT
    key_vault_url: str | None = None
    local_secret_key: SecretStr | None = None
    local_secret_key_file: Path = DEFAULT_LOCAL_SECRET_KEY_FILE

    # --- the dump pipeline -----------------------------------------------------------
    compression_level: int = Field(default=3, ge=1, le=22)
    compression_threads: int = Field(default=2, ge=0, le=64)
    block_size_mb: int = Field(default=8, ge=1, le=4000)
    upload_concurrency: int = Field(default=4, ge=1, le=64)
    dump_timeout_seconds: int = Field(default=7200, ge=1)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # PostgreSQL: also count every table in the dump's snapshot, a second read of the data.
    manifest_snapshot_count: bool = False
    # Restores: count every restored table after the commit instead of taking the rows
    # psql's transaction inserted (PostgreSQL; MySQL/MariaDB always count), a second read.
    restore_count_rows: bool = False

    # --- encryption and protection of backups -----------------------------------------
    encryption: bool = True
    # Comma-separated age1… public keys every backup is also encrypted to (break-glass).
    backup_recipients: str = ""
    immutability: bool = True
    immutability_mode: ImmutabilityMode = ImmutabilityMode.LOCKED

    # --- scheduling and retention ----------------------------------------------------
    server_max_concurrent_backups: int = Field(default=2, ge=1, le=32)
    manual_backup_keep_days: int = Field(default=30, ge=1)
    failed_record_keep_days: int = Field(default=7, ge=1)
    retention_max_deletes_per_run: int = Field(default=50, ge=1)
    # Attempts of the connection test and of the dump, and the pause between them.
    dump_max_attempts: int = Field(default=3, ge=1, le=10)
    dump_retry_seconds: int = Field(default=60, ge=1, le=3600)
    # A database is stale once its newest successful backup is older than its policy's most
    # frequent tier allows, plus this grace (the dump itself, a wait for a lock).
    freshness_grace_minutes: int = Field(default=60, ge=0, le=10_080)
    # Restore drill records kept per database (the newest; a drill whose scratch database
    # is not dropped yet is always kept).
    drill_records_keep: int = Field(default=30, ge=1, le=1000)
    # Tests only: "tests.module:attribute" replacing the connection test and dump
    # (activities/dump_seam.py refuses anything outside tests.*).
    backup_worker: str | None = None

    # --- notifications and HTTP auth ---------------------------------------------------
    # Webhook URLs (Teams, Slack, Logic Apps) carry their secret in the URL itself.
    notify_webhook_url: str | None = Field(default=None, repr=False)
    auth_mode: AuthMode = AuthMode.ENTRA
    entra_tenant_id: str | None = None
    entra_audience: str | None = None
    # The web console's sign-in (public values; shared.auth.AuthConfig reads them too).
    entra_console_client_id: str | None = None
    entra_api_scope: str | None = None
    entra_authority: str | None = None
    # Set by the ARM template when the app's outbound traffic goes through a subnet.
    vnet_subnet_id: str | None = None

    # --- Entra ID sign-in to Azure databases (servers with auth: entra) ------------------
    # Host names a token may go to: ".suffix" admits its subdomains, a name only itself.
    entra_database_hosts: str = DEFAULT_ENTRA_HOSTS
    entra_database_scope: str = DEFAULT_ENTRA_SCOPE

    @field_validator(
        "backup_storage_account_name",
        "key_vault_url",
        "notify_webhook_url",
        "entra_tenant_id",
        "entra_audience",
        "entra_console_client_id",
        "entra_api_scope",
        "entra_authority",
        "vnet_subnet_id",
        "backup_worker",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("backup_storage_connection_string", "local_secret_key", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("backup_recipients")
    @classmethod
    def _age_recipients(cls, value: str) -> str:
        from shared.crypto.age import InvalidRecipient, check_recipient

        for part in value.split(","):
            if part.strip():
                try:
                    check_recipient(part)
                except InvalidRecipient as exc:
                    raise ValueError(str(exc)) from None
        return value

    @field_validator("backup_storage_account_name")
    @classmethod
    def _valid_account_name(cls, value: str | None) -> str | None:
        if value is not None and not ACCOUNT_NAME_PATTERN.match(value):
            raise ValueError("must be 3-24 lower-case letters and digits")
        return value

    @field_validator("backup_container")
    @classmethod
    def _valid_container(cls, value: str) -> str:
        if not CONTAINER_PATTERN.match(value):
            raise ValueError("must be 3-63 lower-case letters, digits and single hyphens")
        return value

    @field_validator("table_prefix")
    @classmethod
    def _valid_table_prefix(cls, value: str) -> str:
        if not TABLE_PREFIX_PATTERN.match(value):
            raise ValueError("must start with a letter and hold only letters and digits")
        return value

    @field_validator("key_vault_url", "notify_webhook_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("local_secret_key_file")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _storage_and_secrets_are_reachable(self) -> Settings:
        if self.backup_storage_connection_string is None and not self.backup_storage_account_name:
            raise ValueError(
                "set BACKUP_STORAGE_CONNECTION_STRING or BACKUP_STORAGE_ACCOUNT_NAME "
                "(the storage account for backups and tables)"
            )
        if self.secret_store is SecretStoreKind.KEYVAULT and not self.key_vault_url:
            raise ValueError("KEY_VAULT_URL is required when SECRET_STORE=keyvault")
        return self

    @property
    def backup_lease_seconds(self) -> int:
        """How long a backup holds its database lock and server slot: every attempt of
        the dump plus the pauses between them, with margin (a lease that ran out under a
        live backup would let a second one start)."""
        attempts = self.dump_max_attempts
        busy = attempts * (self.dump_timeout_seconds + 300)
        return busy + (attempts - 1) * self.dump_retry_seconds + 900

    @property
    def backup_recipient_list(self) -> list[str]:
        return [part.strip() for part in self.backup_recipients.split(",") if part.strip()]

    @property
    def entra_database_host_list(self) -> list[str]:
        return [part.strip() for part in self.entra_database_hosts.split(",") if part.strip()]

    @property
    def block_size_bytes(self) -> int:
        return self.block_size_mb * 1024 * 1024

    def table_name(self, suffix: str) -> str:
        """The full name of one of our tables, e.g. table_name("servers")."""
        return f"{self.table_prefix}{suffix}"


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        if location:
            problems.append(f"{location[0].upper()}: {message}")
        else:
            problems.append(message)
    return "invalid settings: " + "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """Reads the environment (overrides win); SettingsError names what is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
