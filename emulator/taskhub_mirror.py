"""Mirrors the emulator's task hub into `<hub>Instances` and `<hub>History` of the storage
account (DurableTask.AzureStorage schema), so that Azure Storage Explorer and the Durable
Functions Monitor show local instances as they would show them on Azure.

The runtime never waits for it. After each commit the store names the instances and entities
whose rows changed (`changed`: a set insertion per id, under a lock nobody holds for long).
A thread hands the ids to the writer (taskhub_writer.py), which runs in a process of its own
at a lower priority: the interpreter of the runtime does none of the mirror's work. At most
`max_pending` ids wait here, and as many in the writer: past that, further ids are dropped
and counted, and the writer compares everything again. If the writer process dies it is
started again (and a new writer always begins with a full comparison).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import IO, Any

from emulator.taskhub_writer import CONNECTION_ENV, MirrorStats

log = logging.getLogger("emulator")

DEFAULT_CONNECTION = "AzureWebJobsStorage"
SWITCH = "EMULATOR_TASKHUB_MIRROR"  # "false", "0", "no" or "off" turns the mirror off
_RESPAWN_PAUSE = 1.0
_FEED_PAUSE = 0.1


def mirror_from_environment(
    state_path: Path, hub_name: str, connection_name: str = DEFAULT_CONNECTION
) -> TaskHubMirror | None:
    """The mirror of this hub into the account the extension would use, or None (logged)."""
    if os.environ.get(SWITCH, "").strip().lower() in {"0", "false", "no", "off"}:
        log.info("task hub mirror off (%s)", SWITCH)
        return None
    connection = os.environ.get(connection_name, "").strip()
    if not connection:
        log.info("task hub mirror off: the setting %s is not set", connection_name)
        return None
    return TaskHubMirror(state_path, hub_name, connection)


class TaskHubMirror:
    def __init__(
        self,
        state_path: str | Path,
        hub_name: str,
        connection_string: str,
        *,
        max_pending: int = 10_000,
    ) -> None:
        self.hub_name = hub_name
        self._state_path = Path(state_path)
        self._connection_string = connection_string
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: dict[str, None] = {}
        self._resync_due = False
        self._sending = False
        self._dropped = 0
        self._stopping = False
        self._process: subprocess.Popen[str] | None = None
        self._writer_stats = MirrorStats()
        self._pings = 0
        self._pongs = 0
        self._feeder: threading.Thread | None = None
        self._readers: list[threading.Thread] = []

    @property
    def tables(self) -> tuple[str, str]:
        return f"{self.hub_name}Instances", f"{self.hub_name}History"

    @property
    def stats(self) -> MirrorStats:
        """The writer's counts as last reported, with the changes dropped on this side."""
        with self._cond:
            values = {f.name: getattr(self._writer_stats, f.name) for f in fields(MirrorStats)}
            values["dropped"] += self._dropped
            return MirrorStats(**values)

    @property
    def off(self) -> str:
        """Why the writer turned itself off (it found a row it did not write: the account
        holds someone else's task hub of this name); "" while it runs."""
        with self._cond:
            return self._writer_stats.off

    # --- called by the runtime (the store's commit hook) -------------------------------

    def changed(self, ids: frozenset[str]) -> None:
        with self._cond:
            for target in ids:
                if target in self._pending:
                    continue
                if len(self._pending) >= self._max_pending:
                    self._dropped += 1
                    self._resync_due = True
                    continue
                self._pending[target] = None
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._spawn()
        self._feeder = threading.Thread(target=self._feed, name="taskhub-mirror-feed", daemon=True)
        self._feeder.start()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Lets the writer finish what it was told for up to `drain_seconds`; the next start
        compares everything anyway."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._feeder is not None:  # it hands over what is still waiting, then ends
            self._feeder.join(drain_seconds)
        process = self._process
        if process is not None:
            self._send(process, {"stop": drain_seconds})
            with contextlib.suppress(OSError):  # the writer may be gone already
                if process.stdin is not None:
                    process.stdin.close()
            try:
                process.wait(drain_seconds + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for reader in self._readers:  # they end with the writer's output
            reader.join(5)

    def wait_synced(self, timeout: float = 30) -> bool:
        """True once the writer has written everything changed so far (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._resync_due or self._sending:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    return False
            self._pings += 1
            ping = self._pings
        process = self._process
        if process is None or not self._send(process, {"ping": ping}):
            return False
        with self._cond:
            while self._pongs < ping:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    return False
        return True

    # --- the writer process --------------------------------------------------------------

    def _spawn(self) -> None:
        env = {**os.environ, CONNECTION_ENV: self._connection_string}
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator.taskhub_writer",
                str(self._state_path),
                self.hub_name,
                str(self._max_pending),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
            # its own session: a Ctrl-C meant for the emulator does not kill it mid-write;
            # the emulator stops it, and it stops by itself when its stdin closes
            start_new_session=True,
        )
        reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), name="taskhub-mirror-read", daemon=True
        )
        reader.start()
        self._readers.append(reader)

    def _feed(self) -> None:
        """Hands the waiting ids to the writer, a batch at most every `_FEED_PAUSE` (so that
        a busy runtime's interpreter is not woken for every commit); starts it again if it
        died."""
        while True:
            with self._cond:
                while not (self._pending or self._resync_due or self._stopping):
                    self._cond.wait()
                if not self._stopping:
                    self._cond.wait(_FEED_PAUSE)  # the rest of the burst joins this batch
                stopping = self._stopping
                ids, self._pending = list(self._pending), {}
                command: dict[str, Any] = {"ids": ids}
                if self._resync_due:
                    command["resync"] = True
                    self._resync_due = False
                self._sending = True
            process = self._process
            sent = process is not None and self._send(process, command)
            with self._cond:
                self._sending = False
                self._cond.notify_all()
            if stopping:
                return
            if not sent:
                log.warning("task hub mirror: the writer process stopped; starting it again")
                time.sleep(_RESPAWN_PAUSE)
                self._spawn()  # a new writer compares everything

    def _send(self, process: subprocess.Popen[str], message: dict[str, Any]) -> bool:
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            message = json.loads(line)
            with self._cond:
                if "stats" in message:
                    self._writer_stats = MirrorStats(**message["stats"])
                if "pong" in message:
                    self._pongs = max(self._pongs, int(message["pong"]))
                self._cond.notify_all()
