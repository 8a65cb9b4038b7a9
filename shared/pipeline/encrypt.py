"""The encryption stage: compressed dump → age → the blocks (backup), and back (verify,
restore). The stored bytes are the encrypted ones, so the recorded SHA-256 can be checked
without the key; decrypting needs the service identity the backup was encrypted to."""

from __future__ import annotations

from typing import Any

import zstandard
from pydantic import BaseModel, ConfigDict, Field

from shared.crypto.age import FORMAT, decrypt_stream, encrypt_stream


class Encryption(BaseModel):
    """To whom one backup is encrypted: the service identity (its id and public key) first,
    then any extra recipients (break-glass keys from settings or the policy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity_id: str = Field(description="id of the service identity the backup is encrypted to")
    recipients: list[str] = Field(min_length=1, description="age1… public keys, service first")

    @property
    def extra_recipients(self) -> list[str]:
        return self.recipients[1:]

    def metadata(self) -> dict[str, str]:
        """What the blob's metadata says about its encryption (names the key, holds none)."""
        return {
            "encryption": FORMAT,
            "key_id": self.identity_id,
            "recipients": str(len(self.recipients)),
        }


def encryption_to(identity_id: str, service_recipient: str, *extras: list[str]) -> Encryption:
    """The service's recipient first, then the extra ones, each once."""
    recipients = [service_recipient, *(r for group in extras for r in group)]
    return Encryption(identity_id=identity_id, recipients=list(dict.fromkeys(recipients)))


def compress_and_encrypt(
    compressor: zstandard.ZstdCompressor,
    source: Any,
    sink: Any,
    *,
    chunk_size: int,
    recipients: list[str],
) -> None:
    """zstd pulled from `source`, encrypted into `sink` (age reads what zstd produces)."""
    compressed = compressor.stream_reader(source, read_size=chunk_size)
    encrypt_stream(compressed, sink, recipients)


def decrypt_and_decompress(source: Any, sink: Any, *, identity: str, write_size: int) -> None:
    """age decrypts `source` into zstd, which decompresses into `sink`. Only authenticated
    chunks reach zstd; a changed or cut-short blob raises DecryptionFailed."""
    decompressor = zstandard.ZstdDecompressor().stream_writer(
        sink, write_size=write_size, closefd=False
    )
    decrypt_stream(source, decompressor, [identity])
    decompressor.flush()
