"""The storage settings `make run` derives from the Azurite ports.

Prints `export NAME=value` lines (for `eval`, in scripts/run.sh) for the settings that
point at storage, BACKUP_STORAGE_CONNECTION_STRING and AzureWebJobsStorage: Azurite's
development account on 127.0.0.1, at AZURITE_BLOB_PORT, AZURITE_QUEUE_PORT and
AZURITE_TABLE_PORT (10000, 10001, 10002 by default). A setting already in the environment,
or set in local.settings.json to anything but the placeholder `UseDevelopmentStorage=true`,
is left alone: the emulator reads local.settings.json, and the environment wins over it.

    python scripts/local_storage.py [path/to/local.settings.json]
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

SETTINGS = ("BACKUP_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage")
PLACEHOLDER = "UseDevelopmentStorage=true"
PORTS = {"Blob": ("AZURITE_BLOB_PORT", 10000), "Queue": ("AZURITE_QUEUE_PORT", 10001)}
PORTS["Table"] = ("AZURITE_TABLE_PORT", 10002)
# Azurite's fixed development account (public, the same on every machine).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_connection_string(environ: Mapping[str, str]) -> str:
    parts = [
        "DefaultEndpointsProtocol=http",
        f"AccountName={ACCOUNT}",
        f"AccountKey={ACCOUNT_KEY}",
    ]
    for service, (variable, default) in PORTS.items():
        port = int(environ.get(variable) or default)
        parts.append(f"{service}Endpoint=http://127.0.0.1:{port}/{ACCOUNT}")
    return ";".join(parts) + ";"


def derived(environ: Mapping[str, str], local_settings: Path) -> dict[str, str]:
    """The settings to export: those neither the environment nor local.settings.json set."""
    values: dict[str, str] = {}
    if local_settings.is_file():
        values = json.loads(local_settings.read_text(encoding="utf-8")).get("Values") or {}
    value = azurite_connection_string(environ)
    return {
        name: value
        for name in SETTINGS
        if not environ.get(name) and (values.get(name) or PLACEHOLDER) == PLACEHOLDER
    }


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "local.settings.json")
    for name, value in derived(os.environ, path).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
