"""`make run` derives the local storage connection strings from the Azurite ports
(scripts/local_storage.py, evaluated by scripts/run.sh), unless told otherwise."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "local_storage.py"
NAMES = ("BACKUP_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage")


def exported(settings: Path, **env: str) -> dict[str, str]:
    """What run.sh's `eval` would export."""
    clean = {k: v for k, v in os.environ.items() if k not in NAMES and "AZURITE" not in k}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(settings)],
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
    assert set(found) == set(NAMES)
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
    assert set(exported(own, AZURITE_BLOB_PORT="20100")) == {"AzureWebJobsStorage"}
    assert exported(own, AzureWebJobsStorage="UseDevelopmentStorage=true") == {}
