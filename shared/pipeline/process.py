"""A client tool run as a child process: argv without a shell, stderr drained, killable."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from shared.engines.base import ToolCommand

STDERR_TAIL_BYTES = 64 * 1024
# What a restore tool may print after the output marker (a few dozen bytes a table).
OUTPUT_AFTER_MARKER_BYTES = 16 * 1024 * 1024
# A 1 MiB pipe lets the tool write ahead while we compress (the default is 64 KiB).
PIPE_SIZE = 1024 * 1024


def _widen_pipe(stream: object) -> None:
    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


class OutputAfterMarker:
    """What a tool prints after the first `marker`, up to OUTPUT_AFTER_MARKER_BYTES;
    everything before it is dropped as it arrives (a restore tool echoing the dump's own
    query results). `text` is None when the marker never came or too much followed it."""

    def __init__(self, marker: bytes) -> None:
        self._marker = marker
        self._seen = b""
        self._after: bytearray | None = None
        self._overflow = False

    def feed(self, chunk: bytes) -> None:
        if self._after is None:
            seen = self._seen + chunk
            found = seen.find(self._marker)
            if found < 0:
                self._seen = seen[-(len(self._marker) - 1) :] if len(self._marker) > 1 else b""
                return
            self._after = bytearray()
            chunk = seen[found + len(self._marker) :]
        if len(self._after) + len(chunk) > OUTPUT_AFTER_MARKER_BYTES:
            self._overflow = True
            return
        self._after += chunk

    @property
    def text(self) -> bytes | None:
        return None if self._after is None or self._overflow else bytes(self._after)


class ToolProcess:
    """Runs `command` with stdout or stdin piped to us; keeps the last 64 KiB of stderr.
    Fed on stdin, its stdout is dropped, or read for what follows `command.output_marker`
    (`output`)."""

    def __init__(self, command: ToolCommand, *, feed_stdin: bool = False) -> None:
        marker = command.output_marker if feed_stdin else None
        self.output = OutputAfterMarker(marker) if marker else None
        stdout = subprocess.PIPE if not feed_stdin or marker else subprocess.DEVNULL
        self.process = subprocess.Popen(
            command.argv,
            stdin=subprocess.PIPE if feed_stdin else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=command.process_env(),
            bufsize=0,
            close_fds=True,
        )
        _widen_pipe(self.process.stdin if feed_stdin else self.process.stdout)
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        self._drainer = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drainer.start()
        self._reader: threading.Thread | None = None
        if self.output is not None:
            self._reader = threading.Thread(target=self._read_output, daemon=True)
            self._reader.start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None and self.output is not None
        while chunk := self.process.stdout.read(65536):
            self.output.feed(chunk)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read(65536):
            self._stderr.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size - len(self._stderr[0]) >= STDERR_TAIL_BYTES:
                self._stderr_size -= len(self._stderr.popleft())

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def finish(self) -> int:
        """Waits for exit and for stderr to be fully read; returns the exit code."""
        code = self.process.wait()
        self._drainer.join()
        if self._reader is not None:
            self._reader.join()
        return code

    def stderr_tail(self) -> bytes:
        return b"".join(self._stderr)[-STDERR_TAIL_BYTES:]

    def close(self) -> None:
        """Never leaves a child behind, whatever happened."""
        if self.process.poll() is None:
            self.kill()
        self.process.wait()
        self._drainer.join(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


StopKind = Literal["cancelled", "timeout"]


class Watchdog:
    """Kills the tool when the deadline passes or `cancel` is set. Once it did, `fired_kind`
    says why ("cancelled" or "timeout") and `fired` says it in words."""

    def __init__(
        self,
        on_expire: Callable[[str], None],
        timeout_seconds: float,
        cancel: threading.Event | None,
    ) -> None:
        self._on_expire = on_expire
        self._deadline = time.monotonic() + timeout_seconds
        self._cancel = cancel
        self._done = threading.Event()
        self.fired: str | None = None
        self.fired_kind: StopKind | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(0.1):
            if self._cancel is not None and self._cancel.is_set():
                self._expire("cancelled", "it was cancelled")
                return
            if time.monotonic() >= self._deadline:
                self._expire("timeout", "it exceeded its time limit")
                return

    def _expire(self, kind: StopKind, reason: str) -> None:
        # The kind first: whoever sees `fired` set also sees the kind.
        self.fired_kind = kind
        self.fired = reason
        self._on_expire(reason)
