"""Streams in the age v1 format (https://age-encryption.org/v1), through `pyrage`.

pyrage binds the Rust `age` crate: it streams in both directions with bounded memory
(64 KiB STREAM chunks; about 10 MB of RSS measured for a 2 GB stream) and writes files
the standard `age` tool reads, and reads the files it writes (tests/crypto prove both).
On decryption each 64 KiB chunk is authenticated before it is written on, and a stream
that ends before its final chunk (truncation) or holds a changed byte raises: the caller
may have received the authenticated chunks before the failure, never an unauthenticated
one, and must treat everything it received as unusable once this raises.

pyrage turns an exception of the reader or writer it is given into its own generic error
during encryption; the adapters here remember the original and raise that instead, so a
storage failure stays a storage failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, Protocol

import pyrage
from pyrage import x25519

RECIPIENT_PREFIX = "age1"
IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
FORMAT = "age"


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class AgeError(Exception):
    """A key or a stream is not usable; the message never holds key material."""


class InvalidRecipient(AgeError, ValueError):
    pass


class DecryptionFailed(AgeError):
    """The stream is not an age file for these identities, or it was changed or cut short."""


def generate_identity() -> tuple[str, str]:
    """A new X25519 identity: (secret `AGE-SECRET-KEY-1…`, public recipient `age1…`)."""
    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def recipient_of(identity: str) -> str:
    """The public `age1…` recipient of a secret identity."""
    return str(_identity(identity).to_public())


def identity_in_key_file(text: str) -> str:
    """The identity in an `age-keygen` key file (comment lines, then `AGE-SECRET-KEY-1…`)."""
    for line in text.splitlines():
        if line.strip().startswith(IDENTITY_PREFIX):
            return line.strip()
    raise AgeError("the key file holds no AGE-SECRET-KEY-1 line")


def check_recipient(text: str) -> str:
    """`text` if it is an X25519 recipient (`age1…`, bech32), else InvalidRecipient."""
    value = text.strip()
    if not value.startswith(RECIPIENT_PREFIX):
        raise InvalidRecipient(f"not an age X25519 recipient (must start with {RECIPIENT_PREFIX})")
    try:
        x25519.Recipient.from_str(value)
    except pyrage.RecipientError:
        raise InvalidRecipient("not a valid age X25519 recipient (bad bech32 encoding)") from None
    return value


def fingerprint(recipient: str) -> str:
    """A short stable id of a public key (16 hex digits of its SHA-256)."""
    return hashlib.sha256(recipient.encode()).hexdigest()[:16]


def _identity(text: str) -> Any:
    try:
        return x25519.Identity.from_str(text.strip())
    except pyrage.IdentityError:
        raise AgeError("not a valid age X25519 identity") from None


class _Remembering:
    """Passes reads and writes through, keeping the first exception they raised."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._target.read(size)
        except BaseException as exc:
            self.error = self.error or exc
            raise
        return data

    def write(self, data: bytes) -> int:
        try:
            self._target.write(data)
        except BaseException as exc:
            self.error = self.error or exc
            raise
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._target, "flush", None)
        if flush is not None:
            flush()


def _raise_remembered(*ends: _Remembering) -> None:
    for end in ends:
        if end.error is not None:
            raise end.error


def encrypt_stream(source: BinaryIO | Any, sink: Writable, recipients: Sequence[str]) -> None:
    """Reads `source` to its end and writes it to `sink` as an age file for `recipients`.
    An exception of `source` or `sink` is raised as it was."""
    if not recipients:
        raise AgeError("encryption needs at least one recipient")
    keys = [x25519.Recipient.from_str(check_recipient(text)) for text in recipients]
    reader, writer = _Remembering(source), _Remembering(sink)
    try:
        pyrage.encrypt_io(reader, writer, keys)
    except pyrage.EncryptError as exc:
        _raise_remembered(reader, writer)
        raise AgeError(f"encryption failed: {exc}") from None


def decrypt_stream(source: BinaryIO | Any, sink: Writable, identities: Iterable[str]) -> None:
    """Reads the age file `source` to its end and writes the plaintext to `sink`, one
    authenticated chunk at a time. DecryptionFailed when no identity fits, the header or a
    chunk does not authenticate, or the file was cut short; an exception of `source` or
    `sink` is raised as it was."""
    keys = [_identity(text) for text in identities]
    if not keys:
        raise AgeError("decryption needs at least one identity")
    reader, writer = _Remembering(source), _Remembering(sink)
    try:
        pyrage.decrypt_io(reader, writer, keys)
    except (pyrage.DecryptError, OSError) as exc:
        _raise_remembered(reader, writer)
        raise DecryptionFailed(_decrypt_reason(exc)) from None


def _decrypt_reason(exc: BaseException) -> str:
    text = str(exc)
    if "No matching keys" in text:
        return "no identity of ours fits this file (it was encrypted to other keys)"
    if "failed to fill whole buffer" in text:
        return "the file is not a complete age file (its header is missing or cut short)"
    return "it was changed or cut short (an age chunk did not authenticate)"
