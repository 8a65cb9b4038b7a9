"""A client tool run as a child process: argv without a shell, stderr drained, killable."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable

from shared.engines.base import ToolCommand

STDERR_TAIL_BYTES = 64 * 1024
# A 1 MiB pipe lets the tool write ahead while we compress (the default is 64 KiB).
PIPE_SIZE = 1024 * 1024


def _widen_pipe(stream: object) -> None:
    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


class ToolProcess:
    """Runs `command` with stdout or stdin piped to us; keeps the last 64 KiB of stderr."""

    def __init__(self, command: ToolCommand, *, feed_stdin: bool = False) -> None:
        self.process = subprocess.Popen(
            command.argv,
            stdin=subprocess.PIPE if feed_stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if feed_stdin else subprocess.PIPE,
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
        self.killed_because: str | None = None

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read(65536):
            self._stderr.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size - len(self._stderr[0]) >= STDERR_TAIL_BYTES:
                self._stderr_size -= len(self._stderr.popleft())

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self, because: str) -> None:
        if self.killed_because is None:
            self.killed_because = because
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def finish(self, timeout: float | None = None) -> int:
        """Waits for exit and for stderr to be fully read; returns the exit code."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill("it did not exit")
            code = self.process.wait()
        self._drainer.join()
        return code

    def stderr_tail(self) -> bytes:
        return b"".join(self._stderr)[-STDERR_TAIL_BYTES:]

    def close(self) -> None:
        """Never leaves a child behind, whatever happened."""
        if self.process.poll() is None:
            self.kill("the pipeline stopped")
        self.process.wait()
        self._drainer.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class Watchdog:
    """Kills the tool when the deadline passes or `cancel` is set."""

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
                self._expire("it was cancelled")
                return
            if time.monotonic() >= self._deadline:
                self._expire("it exceeded its time limit")
                return

    def _expire(self, reason: str) -> None:
        self.fired = reason
        self._on_expire(reason)
