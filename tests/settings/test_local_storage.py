"""`make run` derives the local storage connection strings from the Azurite ports
(scripts/local_storage.py, evaluated by scripts/run.sh), unless told otherwise, with the
checkout's own Azurite key, never Azurite's public one."""

from __future__ import annotations

import base64
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from tests.conftest import AZURITE_ACCOUNT_KEY, ROOT

SCRIPT = ROOT / "scripts" / "local_storage.py"
NAMES = ("BACKUP_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage")


def exported(settings: Path, **env: str) -> dict[str, str]:
    """What run.sh's `eval` would export (run where the settings are: the key goes to
    .state/ there)."""
    clean = {k: v for k, v in os.environ.items() if k not in NAMES and "AZURITE" not in k}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(settings)],
        cwd=settings.parent,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    found = {}
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        found[name] = value
    return found


def test_the_connection_strings_follow_the_azurite_ports(tmp_path: Path) -> None:
    example = tmp_path / "local.settings.json"
    example.write_text((ROOT / "local.settings.example.json").read_text())  # a fresh copy
    ports = {"AZURITE_BLOB_PORT": "20100", "AZURITE_QUEUE_PORT": "20101"}
    found = exported(example, **ports, AZURITE_TABLE_PORT="20102")
    assert set(found) == {*NAMES, "AZURITE_ACCOUNTS"}
    assert found[NAMES[0]] == found[NAMES[1]]
    value = found[NAMES[0]]
    assert "BlobEndpoint=http://127.0.0.1:20100/devstoreaccount1;" in value
    assert "QueueEndpoint=http://127.0.0.1:20101/devstoreaccount1;" in value
    assert "TableEndpoint=http://127.0.0.1:20102/devstoreaccount1;" in value
    service = BlobServiceClient.from_connection_string(value)  # a string the SDK takes
    assert service.url == "http://127.0.0.1:20100/devstoreaccount1/"
    defaults = exported(tmp_path / "absent.json")[NAMES[0]]
    assert "BlobEndpoint=http://127.0.0.1:10000/" in defaults
    assert "TableEndpoint=http://127.0.0.1:10002/" in defaults


def test_a_string_set_in_local_settings_or_the_environment_is_left_alone(
    tmp_path: Path,
) -> None:
    own = tmp_path / "local.settings.json"
    values = {NAMES[0]: "DefaultEndpointsProtocol=https;AccountName=mine;AccountKey=a2V5"}
    own.write_text(json.dumps({"Values": values}))
    assert set(exported(own, AZURITE_BLOB_PORT="20100")) == {
        "AzureWebJobsStorage",
        "AZURITE_ACCOUNTS",
    }
    assert set(exported(own, AzureWebJobsStorage="UseDevelopmentStorage=true")) == {
        "AZURITE_ACCOUNTS"
    }


def test_make_run_uses_a_key_of_its_own_made_once_and_kept_private(tmp_path: Path) -> None:
    """Azurite's development key is public: whoever reaches its ports and knows it would read
    every backup. `make run` gives its Azurite a random key, kept 0600 in .state/, the same
    on every run of the checkout."""
    settings = tmp_path / "local.settings.json"
    settings.write_text((ROOT / "local.settings.example.json").read_text())
    first = exported(settings)
    value = first[NAMES[0]]
    assert AZURITE_ACCOUNT_KEY not in value and "Eby8vdM02x" not in value
    key_file = tmp_path / ".state" / "azurite-account-key"
    key = key_file.read_text().strip()
    assert f"AccountKey={key};" in value
    assert first["AZURITE_ACCOUNTS"] == f"devstoreaccount1:{key}"
    assert len(base64.b64decode(key)) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) & 0o077 == 0
    assert exported(settings) == first  # once per checkout
    other = tmp_path / "other-checkout"
    other.mkdir()
    (other / "local.settings.json").write_text(settings.read_text())
    assert exported(other / "local.settings.json")["AZURITE_ACCOUNTS"] != first["AZURITE_ACCOUNTS"]
    # A key file others could read is closed up; one that is no key is refused.
    key_file.chmod(0o644)
    assert exported(settings) == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.write_text("not a key\n")
    refused = subprocess.run(
        [sys.executable, str(SCRIPT), str(settings)], cwd=tmp_path, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "remove it" in refused.stderr and not refused.stdout
