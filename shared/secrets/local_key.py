"""The local store's AES-256 key: from LOCAL_SECRET_KEY, or a private key file.

The key file is created on first use with mode 0600 in a 0700 folder, by default in
~/.config/dilux-backup/ so that it never lands in the repository; a file readable
by others, or a file inside the project folder, is refused.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from shared.secrets.base import SecretStoreError

KEY_BYTES = 32
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretStoreError(f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise SecretStoreError(f"{source} must hold {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def _check_location(path: Path) -> None:
    resolved = path.resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        raise SecretStoreError(
            f"LOCAL_SECRET_KEY_FILE {path} is inside the project folder; keep keys outside it"
        )


def _create_key_file(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = os.urandom(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path)  # another process won the race: use its key
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def _read_key_file(path: Path) -> bytes:
    status = path.stat()
    if status.st_uid != os.geteuid():
        # Someone else's file at our key path could be a key they know.
        raise SecretStoreError(
            f"LOCAL_SECRET_KEY_FILE {path} belongs to another user; use a key file of your own"
        )
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise SecretStoreError(
            f"LOCAL_SECRET_KEY_FILE {path} is readable by others (mode {mode:o}); chmod 600 it"
        )
    return decode_key(path.read_text(), f"LOCAL_SECRET_KEY_FILE {path}")


def load_key(key_text: str | None, key_file: Path) -> bytes:
    """The key from the setting if given, else from the key file (made if missing)."""
    if key_text:
        return decode_key(key_text, "LOCAL_SECRET_KEY")
    _check_location(key_file)
    if key_file.exists():
        return _read_key_file(key_file)
    return _create_key_file(key_file)
