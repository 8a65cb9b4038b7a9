"""Settings come from the environment and fail early, naming the bad variable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.settings import (
    SecretStoreKind,
    Settings,
    SettingsError,
    get_settings,
    load_settings,
    reset_settings,
)

SECRET_CONNECTION = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ=="


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """An environment holding none of our settings; the cache is reset around the test."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    reset_settings()
    yield monkeypatch
    reset_settings()


def test_defaults_match_the_developer_guide(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_ACCOUNT_NAME", "prodbackups")
    env.setenv("KEY_VAULT_URL", "https://dilux.vault.azure.net")
    settings = load_settings()
    assert settings.backup_container == "backups"
    assert settings.table_prefix == "dilux"
    assert settings.secret_store is SecretStoreKind.KEYVAULT
    assert settings.local_secret_key_file == Path("/home/someone/.config/dilux-backup/secret.key")
    assert (settings.compression_level, settings.compression_threads) == (3, 2)
    assert (settings.block_size_mb, settings.block_size_bytes) == (8, 8 * 1024 * 1024)
    assert settings.upload_concurrency == 4
    assert settings.dump_timeout_seconds == 7200
    assert settings.connect_timeout_seconds == 10
    assert settings.manifest_snapshot_count is False
    assert settings.server_max_concurrent_backups == 2
    assert settings.manual_backup_keep_days == 30
    assert settings.failed_record_keep_days == 7
    assert settings.retention_max_deletes_per_run == 50
    assert (settings.dump_max_attempts, settings.dump_retry_seconds) == (3, 60)
    assert settings.backup_worker is None
    assert settings.auth_mode == "entra"
    assert settings.backup_storage_connection_string is None
    assert settings.notify_webhook_url is None


def test_values_are_read_and_typed(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("SECRET_STORE", "local")
    env.setenv("COMPRESSION_LEVEL", "19")
    env.setenv("CONNECT_TIMEOUT_SECONDS", "2.5")
    env.setenv("TABLE_PREFIX", "devtables")
    env.setenv("AUTH_MODE", "development")
    env.setenv("MANIFEST_SNAPSHOT_COUNT", "true")
    settings = load_settings()
    assert settings.compression_level == 19
    assert settings.manifest_snapshot_count is True
    assert settings.connect_timeout_seconds == 2.5
    assert settings.table_name("servers") == "devtablesservers"
    assert settings.secret_store == "local"
    assert settings.auth_mode == "development"
    assert isinstance(settings.backup_storage_connection_string, SecretStr)
    assert settings.backup_storage_connection_string.get_secret_value() == SECRET_CONNECTION
    assert "c2VjcmV0LWtleQ" not in repr(settings)
    assert "c2VjcmV0LWtleQ" not in str(settings.model_dump())


def test_no_storage_names_both_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("SECRET_STORE", "local")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "BACKUP_STORAGE_CONNECTION_STRING" in str(error.value)
    assert "BACKUP_STORAGE_ACCOUNT_NAME" in str(error.value)


def test_blank_storage_counts_as_missing(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", "  ")
    env.setenv("SECRET_STORE", "local")
    with pytest.raises(SettingsError, match="BACKUP_STORAGE_CONNECTION_STRING"):
        load_settings()


def test_key_vault_store_needs_its_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_ACCOUNT_NAME", "prodbackups")
    with pytest.raises(SettingsError, match="KEY_VAULT_URL is required when SECRET_STORE=keyvault"):
        load_settings()


@pytest.mark.parametrize("level", ["0", "23", "-1", "fast"])
def test_compression_level_outside_1_to_22_is_refused(env: pytest.MonkeyPatch, level: str) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("SECRET_STORE", "local")
    env.setenv("COMPRESSION_LEVEL", level)
    with pytest.raises(SettingsError, match="COMPRESSION_LEVEL"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TABLE_PREFIX", "has-dash"),
        ("TABLE_PREFIX", "1starts"),
        ("BACKUP_CONTAINER", "Upper"),
        ("BACKUP_CONTAINER", "a"),
        ("SECRET_STORE", "vault"),
        ("AUTH_MODE", "none"),
        ("NOTIFY_WEBHOOK_URL", "ftp://example.com"),
        ("BLOCK_SIZE_MB", "0"),
        ("UPLOAD_CONCURRENCY", "0"),
        ("BACKUP_STORAGE_ACCOUNT_NAME", "Bad_Name"),
    ],
)
def test_invalid_values_name_their_variable(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("SECRET_STORE", "local")
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_errors_never_echo_secret_values(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("LOCAL_SECRET_KEY", "not-a-real-key-but-secret-anyway")
    env.setenv("SECRET_STORE", "local")
    env.setenv("COMPRESSION_LEVEL", "99")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "c2VjcmV0LWtleQ" not in message
    assert "secret-anyway" not in message
    assert error.value.__cause__ is None


def test_get_settings_is_cached_until_reset(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("SECRET_STORE", "local")
    first = get_settings()
    env.setenv("COMPRESSION_LEVEL", "7")
    assert get_settings() is first
    reset_settings()
    assert get_settings().compression_level == 7


def test_get_settings_raises_the_clear_error(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="BACKUP_STORAGE_ACCOUNT_NAME"):
        get_settings()


def test_overrides_win_over_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("SECRET_STORE", "local")
    env.setenv("BACKUP_CONTAINER", "fromenv")
    assert load_settings(backup_container="fromcode").backup_container == "fromcode"


def test_a_webhook_url_with_its_token_is_kept_out_of_repr(env: pytest.MonkeyPatch) -> None:
    hook = "https://hooks.example.net/services/T000/B000/s3cr3tt0ken"
    env.setenv("BACKUP_STORAGE_CONNECTION_STRING", SECRET_CONNECTION)
    env.setenv("SECRET_STORE", "local")
    env.setenv("NOTIFY_WEBHOOK_URL", hook)
    settings = load_settings()
    assert settings.notify_webhook_url == hook
    assert "s3cr3tt0ken" not in repr(settings) and "s3cr3tt0ken" not in str(settings)


def test_the_backup_lease_outlasts_every_attempt_of_the_dump(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKUP_STORAGE_ACCOUNT_NAME", "prodbackups")
    env.setenv("SECRET_STORE", "local")
    env.setenv("DUMP_TIMEOUT_SECONDS", "600")
    env.setenv("DUMP_MAX_ATTEMPTS", "3")
    env.setenv("DUMP_RETRY_SECONDS", "120")
    settings = load_settings()
    attempts_and_pauses = 3 * 600 + 2 * 120
    assert settings.backup_lease_seconds > attempts_and_pauses
    assert settings.backup_lease_seconds == 3 * (600 + 300) + 2 * 120 + 900
