"""Impostor database servers: they refuse TLS and ask for the password in clear text.

Each listens on a loopback port (a thread of its own, so synchronous drivers, child
processes and the emulator's activities can all reach it), speaks just enough of the
PostgreSQL or MySQL protocol to get a client to authenticate, records every byte it
receives, then refuses the login. `captured(password)` says whether the password reached
it, in clear or as a proof it could check (a mysql_native_password scramble, an md5
answer), so a test can assert that no password ever reaches it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Session:
    """One client connection: the challenge the impostor sent and what it received."""

    nonce: bytes = b""
    received: bytearray = field(default_factory=bytearray)
    answers: list[bytes] = field(default_factory=list)  # authentication responses
    user: bytes = b""


class Impostor:
    """Base: a threaded asyncio listener on a loopback address; subclasses speak a protocol."""

    def __init__(self, silent: bool = False, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sessions: list[Session] = []
        self.host = host
        self.port = port  # 0: a free one
        # A silent listener accepts and never answers (the timeout case of a scan).
        self.silent = silent
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> Impostor:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = started.result(timeout=10)
        return self

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        return int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session()
        with self._lock:
            self.sessions.append(session)
        try:
            if self.silent:
                await reader.read()  # until the client gives up
            else:
                await self.converse(session, _Recording(reader, session), writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def converse(
        self, session: Session, reader: _Recording, writer: asyncio.StreamWriter
    ) -> None:
        raise NotImplementedError

    def captured(self, password: str) -> bool:
        """True if any session received `password`, or a proof of it."""
        secret = password.encode()
        with self._lock:
            sessions = list(self.sessions)
        return any(
            secret in bytes(session.received) or self.proves(session, secret)
            for session in sessions
        )

    def received_in_clear(self, password: str) -> bool:
        """True if any session received `password` itself."""
        with self._lock:
            return any(password.encode() in bytes(session.received) for session in self.sessions)

    @property
    def answered(self) -> bool:
        """True if any client answered an authentication request at all."""
        with self._lock:
            return any(session.answers for session in self.sessions)

    def proves(self, session: Session, secret: bytes) -> bool:
        return False

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.sessions)


class _Recording:
    """A stream reader that keeps a copy of everything read."""

    def __init__(self, reader: asyncio.StreamReader, session: Session) -> None:
        self._reader = reader
        self._session = session

    async def exactly(self, size: int) -> bytes:
        data = await self._reader.readexactly(size)
        self._session.received += data
        return data

    async def rest(self) -> None:
        """Reads what the client still sends, until it closes or 2 s of silence."""
        try:
            while data := await asyncio.wait_for(self._reader.read(65536), 2):
                self._session.received += data
        except TimeoutError:
            pass


# --- PostgreSQL -------------------------------------------------------------------------

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


class PostgresImpostor(Impostor):
    """Answers 'N' to TLS (and GSS) requests, then asks for a cleartext password, or with
    `md5=True` for an md5 answer to its salt."""

    def __init__(self, md5: bool = False, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.md5 = md5

    async def converse(
        self, session: Session, reader: _Recording, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            length = struct.unpack("!I", await reader.exactly(4))[0]
            body = await reader.exactly(length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (_SSL_REQUEST, _GSS_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            if code == _CANCEL_REQUEST:
                return
            break
        fields = body[4:].split(b"\0")
        params = dict(zip(fields[::2], fields[1::2], strict=False))
        session.user = params.get(b"user", b"")
        if self.md5:
            session.nonce = os.urandom(4)
            writer.write(b"R" + struct.pack("!II", 12, 5) + session.nonce)
        else:
            writer.write(b"R" + struct.pack("!II", 8, 3))
        await writer.drain()
        kind = await reader.exactly(1)
        if kind != b"p":
            await reader.rest()
            return
        length = struct.unpack("!I", await reader.exactly(4))[0]
        session.answers.append(await reader.exactly(length - 4))
        message = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
        writer.write(b"E" + struct.pack("!I", len(message) + 4) + message)
        await writer.drain()

    def proves(self, session: Session, secret: bytes) -> bool:
        if not session.nonce:
            return False
        inner = hashlib.md5(secret + session.user).hexdigest().encode()  # noqa: S324
        expected = b"md5" + hashlib.md5(inner + session.nonce).hexdigest().encode()  # noqa: S324
        return any(answer.rstrip(b"\0") == expected for answer in session.answers)


# --- MySQL / MariaDB --------------------------------------------------------------------

# Capabilities offered: protocol 4.1, secure connection, plugin auth (lenenc data),
# connect with db, transactions, multi results, connect attributes. Never CLIENT_SSL.
_CAPABILITIES = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | 0x100000 | 0x200000


class MySqlImpostor(Impostor):
    """Greets without TLS, offering mysql_native_password; after the client's answer it
    switches to mysql_clear_password, which asks for the password itself."""

    async def converse(
        self, session: Session, reader: _Recording, writer: asyncio.StreamWriter
    ) -> None:
        session.nonce = bytes(b % 94 + 33 for b in os.urandom(20))  # printable, no NUL
        writer.write(_packet(0, _greeting(session.nonce)))
        await writer.drain()
        sequence, response = await _read_packet(reader)
        if len(response) <= 32:  # an SSLRequest: we offered no TLS, so this is the end
            await reader.rest()
            return
        session.user, answer = _handshake_answer(response)
        session.answers.append(answer)
        switch = b"\xfe" + b"mysql_clear_password\0" + b"\0"
        writer.write(_packet(sequence + 1, switch))
        await writer.drain()
        sequence, cleartext = await _read_packet(reader)
        session.answers.append(cleartext)
        denied = b"\xff" + struct.pack("<H", 1045) + b"#28000" + b"Access denied"
        writer.write(_packet(sequence + 1, denied))
        await writer.drain()

    def proves(self, session: Session, secret: bytes) -> bool:
        if not secret:
            return False
        stage1 = hashlib.sha1(secret).digest()  # noqa: S324 - the protocol's own hash
        stage2 = hashlib.sha1(stage1).digest()  # noqa: S324
        mask = hashlib.sha1(session.nonce + stage2).digest()  # noqa: S324
        scramble = bytes(a ^ b for a, b in zip(stage1, mask, strict=True))
        return any(scramble in answer for answer in session.answers)


def _packet(sequence: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload


async def _read_packet(reader: _Recording) -> tuple[int, bytes]:
    header = await reader.exactly(4)
    length = int.from_bytes(header[:3], "little")
    return header[3], await reader.exactly(length)


def _greeting(nonce: bytes) -> bytes:
    return (
        b"\x0a"
        + b"5.7.44-impostor\0"
        + struct.pack("<I", 7)
        + nonce[:8]
        + b"\0"
        + struct.pack("<H", _CAPABILITIES & 0xFFFF)
        + b"\x21"  # utf8_general_ci
        + struct.pack("<H", 0x0002)
        + struct.pack("<H", _CAPABILITIES >> 16)
        + bytes([21])
        + b"\0" * 10
        + nonce[8:]
        + b"\0"
        + b"mysql_native_password\0"
    )


def _handshake_answer(response: bytes) -> tuple[bytes, bytes]:
    """The user name and the authentication answer of a HandshakeResponse41."""
    rest = response[32:]
    user, _, rest = rest.partition(b"\0")
    size = rest[0] if rest else 0
    return user, rest[1 : 1 + size]


@contextmanager
def impostor(kind: type[Impostor], **options: object) -> Iterator[Impostor]:
    server = kind(**options).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
