r"""Shapes a dump into a restore tool's input while it streams: our own first line, and
some of the dump's own lines left out.

pg_dump 17 and later write `SET transaction_timeout = 0;` near the top of every plain
dump, and PostgreSQL before 17 rejects that setting, so such a dump cannot be restored
into an older server with ON_ERROR_STOP. The restore command names the lines to drop
(`ToolCommand.drop_header_lines`). Only whole lines within the first `window` bytes are
looked at: the data after it passes untouched and uncopied.

psql restores start with our own `\restrict <random key>` (`prefix`): every meta-command
the blob holds (`\! <shell command>`, `\copy`, `\o |cmd`, `\connect`...) then fails
instead of running on this host, and only our key, which the blob cannot know, lifts
it. pg_dump 15.14+/16.10+/17.6+ write their own `\restrict <key>` at the top of a plain
dump and `\unrestrict <key>` at its end, which psql would refuse under ours (another
\restrict, a wrong key) and so fail every restore: `drop_restrict` leaves out such lines
where pg_dump puts them, before the first statement (only comments and blank lines
above) and after the last (only comments and blank lines below, within the last
`TAIL_WINDOW` bytes). Nowhere else: a line of COPY data may read `\restrict ...` (a
value starting with a carriage return). A forged one anywhere else stays, and psql
stops at it.

After the dump the tool reads the command's own `suffix` (psql: the query that reports
the rows its transaction inserted, shared/engines/postgres.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

HEADER_WINDOW = 64 * 1024
TAIL_WINDOW = 4 * 1024
_RESTRICT = re.compile(rb"\\restrict(?:[ \t][^\r\n]*)?\r?\n?")
_UNRESTRICT = re.compile(rb"\\unrestrict(?:[ \t][^\r\n]*)?\r?\n?")


def _is_comment_or_blank(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"--")


class HeaderLineFilter:
    def __init__(
        self,
        drop_lines: Iterable[bytes],
        window: int = HEADER_WINDOW,
        *,
        prefix: bytes = b"",
        drop_restrict: bool = False,
        suffix: bytes = b"",
    ) -> None:
        self._drop = {line.rstrip(b"\r\n") for line in drop_lines}
        self._window = window
        self._buffer = bytearray()
        self._prefix = prefix
        self._suffix = suffix
        self._drop_restrict = drop_restrict
        self._done = not self._drop and not drop_restrict
        # The end of the stream, held back until flush (drop_restrict only); `_cut`:
        # some of the stream went on before it, so its first line may be partial.
        self._tail = bytearray()
        self._cut = False

    def feed(self, chunk: bytes) -> bytes:
        """The bytes ready to go on (possibly none until the window has filled)."""
        if self._done:
            return self._take_prefix() + self._hold_tail(chunk)
        self._buffer += chunk
        if len(self._buffer) < self._window:
            return b""
        return self._take_prefix() + self._hold_tail(self._release())

    def flush(self) -> bytes:
        """Whatever is still held, at the end of the stream, then `suffix`."""
        head = b"" if self._done else self._hold_tail(self._release())
        return self._take_prefix() + head + self._release_tail() + self._suffix

    def _take_prefix(self) -> bytes:
        prefix, self._prefix = self._prefix, b""
        return prefix

    def _release(self) -> bytes:
        self._done = True
        data = bytes(self._buffer)
        self._buffer.clear()
        cut = data.rfind(b"\n", 0, self._window) + 1  # whole lines only
        kept: list[bytes] = []
        prelude = self._drop_restrict  # only comments and blank lines so far
        for line in data[:cut].splitlines(keepends=True):
            if line.rstrip(b"\r\n") in self._drop:
                continue
            if prelude and _RESTRICT.fullmatch(line):
                continue
            prelude = prelude and _is_comment_or_blank(line)
            kept.append(line)
        return b"".join(kept) + data[cut:]

    def _hold_tail(self, data: bytes) -> bytes:
        """`data` less the last TAIL_WINDOW bytes of the stream so far (drop_restrict),
        which go on at flush."""
        if not self._drop_restrict or not data:
            return data
        if len(data) >= TAIL_WINDOW:
            ready = bytes(self._tail) + memoryview(data)[:-TAIL_WINDOW]  # one copy, not two
            self._tail = bytearray(data[-TAIL_WINDOW:])
        else:
            self._tail += data
            if len(self._tail) < 2 * TAIL_WINDOW:
                return b""
            ready = bytes(self._tail[:-TAIL_WINDOW])
            del self._tail[:-TAIL_WINDOW]
        self._cut = True
        return ready

    def _release_tail(self) -> bytes:
        if not self._tail:
            return b""
        lines = bytes(self._tail).splitlines(keepends=True)
        self._tail.clear()
        first_whole = 1 if self._cut else 0
        dropped: set[int] = set()
        for index in range(len(lines) - 1, first_whole - 1, -1):
            line = lines[index]
            if _UNRESTRICT.fullmatch(line):
                dropped.add(index)
            elif not _is_comment_or_blank(line):
                break
        return b"".join(line for index, line in enumerate(lines) if index not in dropped)
