"""A MySQL/MariaDB connection test ends with the fixed 'timeout' outcome within its connect
timeout, whatever stalls: the name lookup, a server that accepts and says nothing, one that
trickles its greeting a byte at a time (each read is short, the whole is endless), or a TLS
handshake trickled the same way. PyMySQL's own timeouts are per socket operation only."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from shared.engines.base import ConnectionErrorKind, ConnectionSpec
from shared.engines.mysql import MySqlEngine
from shared.models import Engine, TlsMode
from tests.engines.conftest import drip, listener

LIMIT = 1.0
SLACK = 1.0  # the machine is shared; the stalls below would last far longer without a deadline
DRIP = 0.3  # well under LIMIT: no single read ever times out


def _spec(port: int, host: str = "127.0.0.1", tls: TlsMode = TlsMode.DISABLE) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.MARIADB, host=host, port=port, username="root", password="pw",
        database="", tls_mode=tls, connect_timeout_seconds=LIMIT,
    )  # fmt: skip


def _silent(conn: socket.socket) -> None:
    time.sleep(30)


def _trickled_greeting(conn: socket.socket) -> None:
    # A packet header announcing 200 bytes, then the bytes one by one.
    drip(conn, struct.pack("<I", 200)[:3] + b"\0" + b"x" * 200, DRIP)


def _greeting_offering_tls() -> bytes:
    capabilities = 0x1 | 0x8 | 0x200 | 0x800 | 0x8000 | 0x80000  # 0x800: CLIENT_SSL
    payload = (
        b"\x0a" + b"10.11.0-staller\0" + struct.pack("<I", 7) + b"abcdefgh" + b"\0"
        + struct.pack("<H", capabilities & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
        + struct.pack("<H", capabilities >> 16) + bytes([21]) + b"\0" * 10
        + b"ijklmnopqrst" + b"\0" + b"mysql_native_password\0"
    )  # fmt: skip
    return struct.pack("<I", len(payload))[:3] + b"\0" + payload


def _trickled_tls_handshake(conn: socket.socket) -> None:
    conn.sendall(_greeting_offering_tls())
    conn.recv(4096)  # the SSLRequest (and perhaps the ClientHello)
    # A TLS record header announcing a 2000-byte handshake record, trickled.
    drip(conn, b"\x16\x03\x03\x07\xd0" + b"\x02" * 2000, DRIP)


def _timed_test(spec: ConnectionSpec) -> tuple[ConnectionErrorKind | None, float]:
    started = time.monotonic()
    result = MySqlEngine(Engine.MARIADB).test_connection(spec)
    elapsed = time.monotonic() - started
    assert not result.ok
    return result.error_kind, elapsed


@pytest.mark.parametrize(
    ("serve", "tls"),
    [
        (_silent, TlsMode.DISABLE),
        (_trickled_greeting, TlsMode.DISABLE),
        (_trickled_tls_handshake, TlsMode.REQUIRE),
    ],
    ids=["silent", "trickled-greeting", "trickled-tls-handshake"],
)
def test_a_stalling_server_is_a_timeout_within_the_limit(
    serve: Callable[[socket.socket], None], tls: TlsMode
) -> None:
    with listener(serve) as port:
        kind, elapsed = _timed_test(_spec(port, tls=tls))
    assert kind is ConnectionErrorKind.TIMEOUT
    assert elapsed < LIMIT + SLACK, elapsed


def test_a_name_lookup_that_hangs_is_a_timeout_within_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The resolver is the one thing stood in for: a DNS server that never answers."""
    real = socket.getaddrinfo

    def hanging(host: object, *args: object, **kwargs: object) -> object:
        if host == "stalls.invalid":
            time.sleep(10)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    kind, elapsed = _timed_test(_spec(3306, host="stalls.invalid"))
    assert kind is ConnectionErrorKind.TIMEOUT
    assert elapsed < LIMIT + SLACK, elapsed


def test_a_name_that_does_not_exist_is_still_unreachable_not_a_timeout() -> None:
    kind, _ = _timed_test(_spec(3306, host="no-such-host.invalid"))
    assert kind is ConnectionErrorKind.UNREACHABLE
