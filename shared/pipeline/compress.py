"""The hot loop: tool stdout → zstd (multi-threaded, in C) → SHA-256 → blocks to upload.

A read-ahead thread drains the pipe; zstd's copy loop runs in C and calls back into Python
once per MiB read or written and once per finished block; compression and hashing release
the GIL, so the reader, zstd's workers and the upload threads all run alongside.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import BinaryIO

import zstandard

from shared.pipeline.blocks import BlockUploader, block_size_for
from shared.pipeline.encrypt import compress_and_encrypt
from shared.pipeline.readahead import ReadAhead

PROGRESS_EVERY = 8 * 1024 * 1024
# zstd's multi-threaded mode cuts the input into jobs and holds, per job in flight, its
# input and its output: left to itself at level 3 it picks 8 MiB jobs, which cost a backup
# about 30 MB of peak RSS more than 4 MiB ones (bench/pipeline.py, encrypted 300 MB dump:
# 205 -> 177 MB), for no loss of speed or ratio measured (each job still starts with the
# last part of the window before it).
ZSTD_JOB_SIZE = 4 * 1024 * 1024


class BlockSink:
    """Cuts compressed output into blocks, hashes them in order and hands them to the uploader."""

    def __init__(self, uploader: BlockUploader, initial_block_size: int) -> None:
        self._uploader = uploader
        self._initial = initial_block_size
        self._parts: list[memoryview] = []
        self._pending = 0
        self.hasher = hashlib.sha256()
        self.stored_bytes = 0

    def write(self, data: bytes) -> int:
        """Appends compressed output; a large write is cut across several blocks."""
        view = memoryview(data)
        while view:
            target = block_size_for(len(self._uploader.block_ids), self._initial)
            piece, view = view[: target - self._pending], view[target - self._pending :]
            self._parts.append(piece)
            self._pending += len(piece)
            if self._pending >= target:
                self._cut()
        return len(data)

    def _cut(self) -> None:
        block = b"".join(self._parts)
        self._parts, self._pending = [], 0
        self.hasher.update(block)
        self.stored_bytes += len(block)
        self._uploader.submit(block)

    def close(self) -> None:
        if self._pending:
            self._cut()


class _CountingReader:
    """The tool's stdout as zstd reads it: counts raw bytes and reports progress."""

    def __init__(
        self, source: BinaryIO, sink: BlockSink, progress: Callable[[int, int], None] | None
    ) -> None:
        self._source = source
        self._sink = sink
        self._progress = progress
        self._next_report = PROGRESS_EVERY
        self.raw_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.raw_bytes += len(data)
        if self._progress is not None and self.raw_bytes >= self._next_report:
            self._progress(self.raw_bytes, self._sink.stored_bytes)
            self._next_report = self.raw_bytes + PROGRESS_EVERY
        return data


def compress_stream(
    source: BinaryIO,
    sink: BlockSink,
    *,
    level: int,
    threads: int,
    chunk_size: int,
    progress: Callable[[int, int], None] | None = None,
    observe: Callable[[bytes], None] | None = None,
    recipients: list[str] | None = None,
) -> int:
    """Compresses `source` to its end into `sink`, encrypted to `recipients` (age) when
    given; returns the raw byte count. zstd's copy loop runs in C, calling back into Python
    once per MiB read or written. `observe` sees every raw chunk, in order, on the
    read-ahead thread."""
    compressor = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            level, threads=threads, job_size=ZSTD_JOB_SIZE if threads else 0, write_checksum=True
        )
    )
    ahead = ReadAhead(source, chunk_size, observe=observe)
    reader = _CountingReader(ahead, sink, progress)  # type: ignore[arg-type]
    try:
        if recipients:
            compress_and_encrypt(
                compressor, reader, sink, chunk_size=chunk_size, recipients=recipients
            )
        else:
            compressor.copy_stream(reader, sink, read_size=chunk_size, write_size=chunk_size)
    except BaseException:
        ahead.stop()  # the caller kills the tool; the reader then sees the end of the pipe
        raise
    ahead.join()
    sink.close()
    if progress is not None:
        progress(reader.raw_bytes, sink.stored_bytes)
    return reader.raw_bytes
