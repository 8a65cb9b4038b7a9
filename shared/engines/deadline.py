"""One deadline over everything it takes to open a connection: the name lookup, the TCP
connect to each address, and every read and write until the driver says it is connected
(greeting, TLS handshake, sign-in).

Drivers' timeouts are per socket operation: a server that trickles its greeting a byte at a
time, or a name server that never answers, holds a connection test for as long as it likes.
Here the lookup runs on a thread of its own that is waited for only until the deadline, and
a timer shuts the socket down at the deadline, which ends whatever read the driver is in.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class DeadlinePassed(Exception):
    """The connection was not open within the deadline."""


class ConnectDeadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self.passed = False

    def remaining(self) -> float:
        left = self._ends - time.monotonic()
        if left <= 0:
            self.passed = True
            raise DeadlinePassed
        return left

    def open_socket(self, host: str, port: int) -> socket.socket:
        """A TCP socket connected to `host`, tried address by address within the deadline.
        OSError when no address accepts (refused, unreachable, unknown name)."""
        last: OSError | None = None
        for family, kind, proto, _, address in self.resolve(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self.remaining())
                sock.connect(address)
            except TimeoutError:
                sock.close()
                self.passed = True
                raise DeadlinePassed from None
            except BaseException as error:
                sock.close()
                if not isinstance(error, OSError):
                    raise
                last = error
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            return sock
        raise last or OSError(f"no address for {host!r}")

    def resolve(self, host: str, port: int) -> list[tuple]:  # type: ignore[type-arg]
        """getaddrinfo's answer for `host`, waited for only until the deadline;
        DeadlinePassed after that, OSError (socket.gaierror) for a name that is not found."""
        found: list[object] = []
        done = threading.Event()

        def lookup() -> None:
            try:
                found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            except OSError as error:
                found.append(error)
            finally:
                done.set()

        # A daemon thread: a lookup still hanging at the deadline is left to the resolver's
        # own timeouts, and this connection gives up now.
        threading.Thread(target=lookup, name="resolve", daemon=True).start()
        if not done.wait(self.remaining()):
            self.passed = True
            raise DeadlinePassed
        result = found[0]
        if isinstance(result, OSError):
            raise result
        return result  # type: ignore[return-value]

    @contextmanager
    def guarding(self, sock: socket.socket) -> Iterator[None]:
        """Shuts `sock` down if the block is still running at the deadline (the driver's
        read then fails at once); DeadlinePassed if it did."""
        timer = threading.Timer(self.remaining(), self._expire, args=(sock,))
        timer.daemon = True
        timer.start()
        try:
            yield
        except BaseException:
            timer.cancel()
            if self.passed:
                raise DeadlinePassed from None
            raise
        timer.cancel()
        if self.passed:
            raise DeadlinePassed

    def _expire(self, sock: socket.socket) -> None:
        self.passed = True
        with suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)
