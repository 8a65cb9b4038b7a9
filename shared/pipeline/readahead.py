"""Drains a tool's stdout in its own thread, a bounded queue ahead of the compressor.

While zstd waits for its workers, nobody would read the pipe and the dump tool would stall
on a full pipe: the two would take turns instead of running side by side. The zstd CLI
avoids this with its own reader thread; so do we. At most `depth` chunks wait in memory.
The same thread hands each chunk to `observe` (the row counting) before queueing it, so
that work runs beside the compression rather than in its way.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

_PUT_TIMEOUT = 0.1


class ReadAhead:
    """A file-like `read()` over chunks read in a background thread."""

    def __init__(
        self,
        source: BinaryIO,
        chunk_size: int,
        depth: int = 8,
        observe: Callable[[bytes], None] | None = None,
    ) -> None:
        # A pipe read returns whatever the tool wrote last (often a few KiB): the buffered
        # reader gathers full chunks in C, so zstd sees one call per chunk.
        self._source = io.BufferedReader(source, buffer_size=chunk_size)  # type: ignore[arg-type]
        self._chunk_size = chunk_size
        self._observe = observe
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ended = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and (chunk := self._source.read(self._chunk_size)):
                if self._observe is not None:
                    self._observe(chunk)
                self._put(chunk)
        except Exception as exc:  # the reader's own, or `observe`'s: the stream fails with it
            self.error = exc
        finally:
            self._put(b"")

    def _put(self, chunk: bytes) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(chunk, timeout=_PUT_TIMEOUT)
                return

    def read(self, size: int = -1) -> bytes:
        if self._ended:
            return b""
        chunk = self._queue.get()
        if not chunk:
            self._ended = True
            if self.error is not None:
                raise self.error
        return chunk

    def stop(self) -> None:
        """Nobody reads any more: the thread ends after its current read returns."""
        self._stop.set()

    def join(self) -> None:
        """After the end of the stream was read: the thread has finished or is finishing."""
        self._thread.join()
