"""The storage settings `make run` derives from the Azurite ports, and Azurite's account key.

Prints `export NAME=value` lines (for `eval`, in scripts/run.sh):

- AZURITE_ACCOUNTS, read by the Azurite that scripts/services.sh starts for `make run`: the
  development account `devstoreaccount1` with this checkout's own key instead of Azurite's
  well-known public one (which anyone who can reach the ports would use to read every
  backup). The key is 64 random bytes, made on the first run and kept in
  `.state/azurite-account-key` (0600); Azurite takes it from its environment, which other
  users cannot read (its command line they can).
- BACKUP_STORAGE_CONNECTION_STRING and AzureWebJobsStorage: that account on 127.0.0.1, at
  AZURITE_BLOB_PORT, AZURITE_QUEUE_PORT and AZURITE_TABLE_PORT (10000, 10001, 10002 by
  default), with that key. A setting already in the environment, or set in
  local.settings.json to anything but the placeholder `UseDevelopmentStorage=true`, is left
  alone: the emulator reads local.settings.json, and the environment wins over it.

    python scripts/local_storage.py [path/to/local.settings.json]
    python scripts/local_storage.py --check   # does the Azurite on the ports take the key?

The test suite's Azurite keeps the public key (tests/conftest.py): it holds no one's data.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import shlex
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

SETTINGS = ("BACKUP_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage")
PLACEHOLDER = "UseDevelopmentStorage=true"
PORTS = {"Blob": ("AZURITE_BLOB_PORT", 10000), "Queue": ("AZURITE_QUEUE_PORT", 10001)}
PORTS["Table"] = ("AZURITE_TABLE_PORT", 10002)
ACCOUNT = "devstoreaccount1"
# Azurite's fixed development key: public, the same on every machine. Never `make run`'s.
PUBLIC_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
KEY_FILE = Path(".state") / "azurite-account-key"


class KeyFileError(Exception):
    """The key file is there but is not a key."""


def run_account_key(path: Path = KEY_FILE) -> str:
    """This checkout's Azurite key: made once (64 random bytes, base64), then read back.
    The file is created 0600 under a 0700 folder; one left readable by others is closed up."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        key = path.read_text(encoding="ascii").strip()
        try:
            if len(base64.b64decode(key, validate=True)) < 32:
                raise ValueError
        except (binascii.Error, ValueError):
            raise KeyFileError(f"{path} does not hold an Azurite key: remove it") from None
        return key
    key = base64.b64encode(secrets.token_bytes(64)).decode("ascii")
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def azurite_accounts(account_key: str) -> str:
    """AZURITE_ACCOUNTS: with it set, Azurite serves these accounts only (not the public key)."""
    return f"{ACCOUNT}:{account_key}"


def azurite_connection_string(environ: Mapping[str, str], account_key: str) -> str:
    parts = [
        "DefaultEndpointsProtocol=http",
        f"AccountName={ACCOUNT}",
        f"AccountKey={account_key}",
    ]
    for service, (variable, default) in PORTS.items():
        port = int(environ.get(variable) or default)
        parts.append(f"{service}Endpoint=http://127.0.0.1:{port}/{ACCOUNT}")
    return ";".join(parts) + ";"


def derived(
    environ: Mapping[str, str], local_settings: Path, *, account_key: str
) -> dict[str, str]:
    """The settings to export: those neither the environment nor local.settings.json set."""
    values: dict[str, str] = {}
    if local_settings.is_file():
        values = json.loads(local_settings.read_text(encoding="utf-8")).get("Values") or {}
    value = azurite_connection_string(environ, account_key)
    return {
        name: value
        for name in SETTINGS
        if not environ.get(name) and (values.get(name) or PLACEHOLDER) == PLACEHOLDER
    }


def run_exports(environ: Mapping[str, str], local_settings: Path, key_file: Path) -> dict[str, str]:
    """Everything `make run` exports: Azurite's accounts, and the strings that use them."""
    key = run_account_key(key_file)
    exports = {"AZURITE_ACCOUNTS": azurite_accounts(key)}
    exports.update(derived(environ, local_settings, account_key=key))
    return exports


def check(environ: Mapping[str, str], key_file: Path) -> int:
    """0 if the Azurite on the ports takes this checkout's key; a hint on stderr otherwise
    (an Azurite started by an earlier `make run` with the public key is still running)."""
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobServiceClient

    value = azurite_connection_string(environ, run_account_key(key_file))
    try:
        service = BlobServiceClient.from_connection_string(value, connection_timeout=5)
        service.get_service_properties(timeout=10)
    except AzureError as exc:
        port = environ.get("AZURITE_BLOB_PORT") or PORTS["Blob"][1]
        print(
            f"the Azurite on port {port} does not take this checkout's key ({type(exc).__name__}): "
            "it was started otherwise (an earlier `make run`?); stop it and run again",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str]) -> int:
    try:
        if len(argv) > 1 and argv[1] == "--check":
            return check(os.environ, KEY_FILE)
        path = Path(argv[1] if len(argv) > 1 else "local.settings.json")
        exports = run_exports(os.environ, path, KEY_FILE)
    except KeyFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
