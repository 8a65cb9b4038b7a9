"""A PostgreSQL connection ends within its connect timeout whatever stalls, like MySQL's
(test_mysql_deadline.py): libpq's connect_timeout covers one address at a time, in whole
seconds of at least 2, and psycopg looks the name up with nothing to bound the wait. The
tools (pg_dump, psql) then connect to the address our own connection reached, looking no
name up. The resolver is the one thing stood in for; the servers are real sockets and the
machine's PostgreSQL 15 and its own pg_dump and psql."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.engines.base import ConnectionErrorKind, ConnectionSpec
from shared.engines.postgres import COMPLETION_MARKER, PostgresEngine
from shared.models import TlsMode
from tests.engines.conftest import drip, listener, pg15_spec

LIMIT = 2  # libpq's least connect_timeout
SLACK = 1.5  # the machine is shared; each stall below lasts far longer without a deadline
DRIP = 0.3  # well under LIMIT: no single read ever times out
ENGINE = PostgresEngine()


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names under .invalid answered from this dict (address lists, in order), or never
    when listed as "hang"; every other name goes to the real resolver."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def lookup(host: object, port: object, *args: object, **kwargs: object) -> object:
        if isinstance(host, str) and host in answers:
            if answers[host] == ["hang"]:
                time.sleep(10)
            else:
                stream = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
                return [(socket.AF_INET, *stream, (address, port)) for address in answers[host]]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return answers


SILENT_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


@pytest.fixture
def silent_on_three_addresses() -> Iterator[int]:
    """One port on each of SILENT_ADDRESSES that accepts and never answers."""
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(socket.create_server((SILENT_ADDRESSES[0], 0)))
        port = first.getsockname()[1]
        for address in SILENT_ADDRESSES[1:]:
            stack.enter_context(socket.create_server((address, port)))
        yield port


@pytest.fixture
def silent_beside_postgres() -> Iterator[str]:
    """127.0.0.2 on PostgreSQL's own port, accepting and never answering (the machine's
    PostgreSQL listens on 127.0.0.1 only)."""
    with socket.create_server(("127.0.0.2", 5432), backlog=16):
        yield "127.0.0.2"


def _timed_test(spec: ConnectionSpec) -> tuple[ConnectionErrorKind | None, str, float]:
    started = time.monotonic()
    result = ENGINE.test_connection(spec)
    elapsed = time.monotonic() - started
    assert not result.ok
    return result.error_kind, result.message or "", elapsed


def test_a_name_lookup_that_hangs_is_a_timeout_within_the_limit(
    resolver: dict[str, list[str]],
) -> None:
    resolver["stalls.invalid"] = ["hang"]
    spec = pg15_spec("postgres", host="stalls.invalid", connect_timeout_seconds=LIMIT)
    kind, message, elapsed = _timed_test(spec)
    assert kind is ConnectionErrorKind.TIMEOUT, message
    assert elapsed < LIMIT + SLACK, elapsed


def test_a_name_of_several_silent_addresses_is_one_timeout_not_one_per_address(
    resolver: dict[str, list[str]], silent_on_three_addresses: int
) -> None:
    """Each address alone would take the whole connect timeout (6 s for these three)."""
    resolver["three.invalid"] = SILENT_ADDRESSES
    spec = pg15_spec(
        "postgres",
        host="three.invalid",
        port=silent_on_three_addresses,
        connect_timeout_seconds=LIMIT,
    )
    kind, message, elapsed = _timed_test(spec)
    assert kind is ConnectionErrorKind.TIMEOUT, message
    assert elapsed < LIMIT + SLACK, elapsed


def test_an_address_that_refuses_gives_way_to_the_next(resolver: dict[str, list[str]]) -> None:
    """As libpq does with several hosts: the machine's PostgreSQL listens on 127.0.0.1
    only, so 127.0.0.2 refuses and the second address answers."""
    resolver["two.invalid"] = ["127.0.0.2", "127.0.0.1"]
    result = ENGINE.test_connection(pg15_spec("postgres", host="two.invalid"))
    assert result.ok, result.message
    assert result.server_version and result.server_version.startswith("15.")


def test_a_server_that_answers_ends_the_attempts(
    resolver: dict[str, list[str]], silent_beside_postgres: str
) -> None:
    """The server's answer (here: no such database) is reported at once; the silent
    address after it is never tried (it would cost the whole timeout)."""
    resolver["answers.invalid"] = ["127.0.0.1", silent_beside_postgres]
    spec = pg15_spec("no_such_db_deadline", host="answers.invalid", connect_timeout_seconds=5)
    kind, message, elapsed = _timed_test(spec)
    assert kind is ConnectionErrorKind.DATABASE_MISSING, message
    assert elapsed < 2, elapsed


def test_a_silent_address_before_the_server_leaves_it_no_time(
    resolver: dict[str, list[str]], silent_beside_postgres: str
) -> None:
    """The first address takes the whole deadline: the server behind the second is not
    reached, and the test says timeout instead of running on for another timeout."""
    resolver["late.invalid"] = [silent_beside_postgres, "127.0.0.1"]
    spec = pg15_spec("postgres", host="late.invalid", connect_timeout_seconds=LIMIT)
    kind, message, elapsed = _timed_test(spec)
    assert kind is ConnectionErrorKind.TIMEOUT, message
    assert elapsed < LIMIT + SLACK, elapsed


def _trickled_error(conn: socket.socket) -> None:
    conn.recv(4096)  # the startup message
    # An ErrorResponse announcing 1,000 bytes, then the bytes one by one.
    drip(conn, b"E" + struct.pack("!I", 1000) + b"M" * 996, DRIP)


def _trickled_tls_handshake(conn: socket.socket) -> None:
    conn.recv(8)  # the SSLRequest
    conn.sendall(b"S")
    # A TLS record of 256 bytes holding a ServerHello of 252, trickled. (A 2,000-byte
    # record made OpenSSL fail at its header instead, "data length too long", when an
    # earlier connection of the process had timed out.)
    drip(conn, b"\x16\x03\x03\x01\x00" + b"\x02\x00\x00\xfc" + b"\x03" * 252, DRIP)


@pytest.mark.parametrize(
    ("serve", "tls"),
    [(_trickled_error, TlsMode.DISABLE), (_trickled_tls_handshake, TlsMode.REQUIRE)],
    ids=["trickled-answer", "trickled-tls-handshake"],
)
def test_a_trickling_server_is_a_timeout_within_the_limit(
    serve: Callable[[socket.socket], None], tls: TlsMode
) -> None:
    with listener(serve) as port:
        spec = pg15_spec("postgres", port=port, tls_mode=tls, connect_timeout_seconds=LIMIT)
        kind, message, elapsed = _timed_test(spec)
    assert kind is ConnectionErrorKind.TIMEOUT, message
    assert elapsed < LIMIT + SLACK, elapsed


def test_a_name_that_does_not_exist_is_still_unreachable() -> None:
    kind, message, _ = _timed_test(pg15_spec("postgres", host="no-such-host.invalid"))
    assert kind is ConnectionErrorKind.UNREACHABLE, message
    assert "no-such-host.invalid" in message


def test_pg_dump_goes_where_its_snapshot_was_exported(
    resolver: dict[str, list[str]], postgres_database: str, tmp_path: Path
) -> None:
    """The name's first address refuses (the machine's PostgreSQL listens on 127.0.0.1
    only): our connection moves on to the second, exports its snapshot there, and pg_dump
    goes there too. The name exists only for our resolver: had pg_dump looked it up
    itself, it would not have found it."""
    resolver["pinned.invalid"] = ["127.0.0.2", "127.0.0.1"]
    spec = pg15_spec(postgres_database, host="pinned.invalid")
    with ENGINE.dump_with_catalogue(spec, tmp_path) as (reading, command):
        assert command.env["PGHOSTADDR"] == "127.0.0.1"
        dump = subprocess.run(
            command.argv, env=command.process_env(), capture_output=True, timeout=60
        )
        assert reading.read().tables == []
    assert dump.returncode == 0, dump.stderr
    assert COMPLETION_MARKER in dump.stdout


@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_the_tools_go_to_the_address_found_within_the_deadline(
    resolver: dict[str, list[str]], postgres_database: str, tmp_path: Path, build: str
) -> None:
    resolver["tools.invalid"] = ["127.0.0.1"]
    spec = pg15_spec(postgres_database, host="tools.invalid")
    with getattr(ENGINE, build)(spec, tmp_path) as command:
        assert command.env["PGHOST"] == "tools.invalid"  # TLS and the password file
        assert command.env["PGHOSTADDR"] == "127.0.0.1"
        ran = subprocess.run(
            command.argv, env=command.process_env(), input=b"SELECT 1;\n",
            capture_output=True, timeout=60,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
