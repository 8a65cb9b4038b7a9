"""File-like adapters between blob chunks, the zstd decompressor and its destinations."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO


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
