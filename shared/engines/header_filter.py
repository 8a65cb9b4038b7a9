"""Drops exact lines from the header of a dump while it streams to a restore tool.

pg_dump 17 and later write `SET transaction_timeout = 0;` near the top of every plain
dump, and PostgreSQL before 17 rejects that setting, so such a dump cannot be restored
into an older server with ON_ERROR_STOP. The restore command names the lines to drop
(`ToolCommand.drop_header_lines`); the pipeline passes the decompressed stream through
`HeaderLineFilter`. Only whole lines within the first `window` bytes are looked at: the
data after it passes untouched and uncopied.
"""

from __future__ import annotations

from collections.abc import Iterable

HEADER_WINDOW = 64 * 1024


class HeaderLineFilter:
    def __init__(self, drop_lines: Iterable[bytes], window: int = HEADER_WINDOW) -> None:
        self._drop = {line.rstrip(b"\r\n") for line in drop_lines}
        self._window = window
        self._buffer = bytearray()
        self._done = not self._drop

    def feed(self, chunk: bytes) -> bytes:
        """The bytes ready to go on (possibly none until the window has filled)."""
        if self._done:
            return chunk
        self._buffer += chunk
        return self._release() if len(self._buffer) >= self._window else b""

    def flush(self) -> bytes:
        """Whatever is still held, at the end of the stream."""
        return b"" if self._done else self._release()

    def _release(self) -> bytes:
        self._done = True
        data = bytes(self._buffer)
        self._buffer.clear()
        cut = data.rfind(b"\n", 0, self._window) + 1  # whole lines only
        kept = (
            line
            for line in data[:cut].splitlines(keepends=True)
            if line.rstrip(b"\r\n") not in self._drop
        )
        return b"".join(kept) + data[cut:]
