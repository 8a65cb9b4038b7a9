"""Keeps newer PostgreSQL dumps restorable into older servers.

pg_dump 17+ always writes `SET transaction_timeout = 0;` into its preamble, and servers
before 17 reject that unknown setting, so a dump made with our PostgreSQL 18 client
would not restore into a 15 or 16 server (psql stops at the first error). The restore
rewrites that one preamble line into a statement that sets the same value on 17+ and
does nothing before. Only the first 64 KiB are looked at; the rest streams untouched.
"""

from __future__ import annotations

from typing import BinaryIO

PREAMBLE_BYTES = 64 * 1024
_LINE = b"\nSET transaction_timeout = 0;\n"
_PORTABLE = (
    b"\nSELECT pg_catalog.set_config('transaction_timeout', '0', false)"
    b" WHERE current_setting('server_version_num')::int >= 170000;\n"
)


class PostgresPreambleFix:
    """A writer that rewrites the transaction_timeout line of the preamble, then passes
    everything through unchanged."""

    def __init__(self, forward: BinaryIO) -> None:
        self._forward = forward
        self._head = bytearray()
        self._passing = False

    def write(self, data: bytes) -> int:
        if self._passing:
            return self._forward.write(data)
        self._head += data
        if len(self._head) >= PREAMBLE_BYTES:
            self._release()
        return len(data)

    def _release(self) -> None:
        self._passing = True
        self._forward.write(bytes(self._head).replace(_LINE, _PORTABLE, 1))
        self._head = bytearray()

    def flush(self) -> None:
        if not self._passing:
            self._release()
        self._forward.flush()
