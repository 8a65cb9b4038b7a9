"""File-like adapters between blob chunks, the zstd decompressor and its destinations, and
the reading of a stored blob that verify and restore share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from shared.pipeline.encrypt import decrypt_and_decompress
from shared.pipeline.results import MIB
from shared.storage.blobs import BlobArchived, BlobNotFound, BlobStoreError

# zstd's read and write size, and the restore tool's stdin buffer.
IO_SIZE = 1 * MIB


class HashingReader:
    """Reads blob chunks as a file, hashing and counting every stored byte on the way."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")
        self.hasher = hashlib.sha256()
        self.stored_bytes = 0

    def read(self, size: int = -1) -> bytes:
        if not self._current:
            chunk = next(self._chunks, b"")
            self.hasher.update(chunk)
            self.stored_bytes += len(chunk)
            self._current = memoryview(chunk)
        if size < 0 or size >= len(self._current):
            piece, self._current = self._current, memoryview(b"")
        else:
            piece, self._current = self._current[:size], self._current[size:]
        return piece.tobytes()

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


class TailWriter:
    """Counts the decompressed bytes and keeps only the last `keep` of them."""

    def __init__(self, keep: int = 4096, forward: BinaryIO | None = None) -> None:
        self._keep = keep
        self._forward = forward
        self.tail = b""
        self.raw_bytes = 0

    def write(self, data: bytes) -> int:
        if self._forward is not None:
            self._forward.write(data)
        self.raw_bytes += len(data)
        if self._keep:
            self.tail = (self.tail + bytes(data[-self._keep :]))[-self._keep :]
        return len(data)

    def flush(self) -> None:
        if self._forward is not None:
            self._forward.flush()


def decompress_blob(
    reader: HashingReader, writer: TailWriter, blob_name: str, identity: str | None = None
) -> str | None:
    """Decompresses the whole blob from `reader` into `writer` (decrypting it first with
    `identity` when given), then flushes `writer`. Returns why the blob could not be read,
    or None. Corrupt data (zstandard.ZstdError, shared.crypto.age.DecryptionFailed) and the
    writer's own errors propagate: what they mean depends on where the data went."""
    try:
        if identity is not None:
            decrypt_and_decompress(reader, writer, identity=identity, write_size=IO_SIZE)
        else:
            zstandard.ZstdDecompressor().copy_stream(
                reader, writer, read_size=IO_SIZE, write_size=IO_SIZE
            )
        writer.flush()
    except BlobNotFound:
        return f"blob {blob_name!r} does not exist"
    except BlobArchived as exc:
        return str(exc)
    except BlobStoreError as exc:
        return f"could not read the blob: {exc}"
    return None


def checksum_mismatch(sha256: str, expected_sha256: str) -> str | None:
    """Says how the blob's SHA-256 differs from the recorded one, or None if it matches."""
    if sha256 == expected_sha256.lower():
        return None
    return f"checksum mismatch: the blob hashes to {sha256}, the record says {expected_sha256}"


def drain(reader: HashingReader, blob_name: str) -> str | None:
    """Reads the whole blob only to hash it (an encrypted blob whose key is not at hand)."""
    try:
        while reader.read(IO_SIZE):
            pass
    except BlobNotFound:
        return f"blob {blob_name!r} does not exist"
    except BlobStoreError as exc:
        return f"could not read the blob: {exc}"
    return None
