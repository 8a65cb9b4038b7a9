"""ENCRYPTION, BACKUP_RECIPIENTS, IMMUTABILITY and IMMUTABILITY_MODE."""

from __future__ import annotations

import pytest

from shared.crypto.age import generate_identity
from shared.settings import ImmutabilityMode, SettingsError, load_settings

BASE = {"backup_storage_account_name": "prodbackups", "key_vault_url": "https://v.vault.azure.net"}


def test_encryption_and_immutability_are_on_by_default() -> None:
    settings = load_settings(**BASE, _env_file=None)
    assert settings.encryption is True
    assert settings.immutability is True
    assert settings.immutability_mode is ImmutabilityMode.LOCKED
    assert settings.backup_recipient_list == []


@pytest.mark.parametrize(("text", "value"), [("off", False), ("on", True), ("false", False)])
def test_encryption_reads_on_and_off(text: str, value: bool) -> None:
    assert load_settings(**BASE, encryption=text).encryption is value


def test_backup_recipients_are_a_comma_separated_list_of_age_keys() -> None:
    one, two = generate_identity()[1], generate_identity()[1]
    settings = load_settings(**BASE, backup_recipients=f" {one}, {two} ,")
    assert settings.backup_recipient_list == [one, two]


def test_a_bad_backup_recipient_stops_the_app_naming_the_setting() -> None:
    good = generate_identity()[1]
    with pytest.raises(SettingsError, match="BACKUP_RECIPIENTS") as caught:
        load_settings(**BASE, backup_recipients=f"{good},age1oops")
    assert good not in str(caught.value)
