"""kill -9 during a fan-out, restart on the same state file: the instance completes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.conftest import EMULATOR_APP, WEBHOOKS, read_marks

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_KEY = "crash-test-system-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    return status, json.loads(raw) if raw else None


def _wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


class Emulator:
    def __init__(self, tmp: Path, port: int, env: dict[str, str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._argv = [
            sys.executable,
            "-m",
            "emulator",
            "--app-dir",
            str(EMULATOR_APP),
            "--port",
            str(port),
            "--state",
            str(tmp / "state.sqlite"),
        ]
        self._env = {**os.environ, **env, "EMULATOR_SYSTEM_KEY": SYSTEM_KEY}
        self._log = tmp / "emulator.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                self._argv, cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        _wait_for(self._up, "the emulator to answer")

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the emulator exited: {self._log.read_text()[-2000:]}")
        try:
            return _http("GET", self.base + "/")[0] == 200
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def status(self, instance_id: str) -> dict[str, Any]:
        url = f"{self.base}{WEBHOOKS}/instances/{instance_id}?code={SYSTEM_KEY}"
        return _http("GET", url)[1] or {}


@pytest.fixture
def crash_env(tmp_path: Path) -> Iterator[tuple[Emulator, Path, Path]]:
    marks = tmp_path / "marks"
    marks.mkdir()
    gate = tmp_path / "gate"
    env = {"EMULATOR_TEST_MARK_DIR": str(marks), "EMULATOR_TEST_GATE_FILE": str(gate)}
    emulator = Emulator(tmp_path, _free_port(), env)
    yield emulator, marks, gate
    emulator.kill()


@pytest.mark.slow
def test_fan_out_survives_kill_9(crash_env: tuple[Emulator, Path, Path]) -> None:
    emulator, marks, gate = crash_env
    emulator.start()
    url = f"{emulator.base}{WEBHOOKS}/orchestrators/fan_out/crash-1?code={SYSTEM_KEY}"
    started, _ = _http("POST", url, json.dumps("8").encode())
    assert started == 202
    # host.json allows two activities at once; both are now held at the gate
    _wait_for(lambda: len(read_marks(marks, "activity")) >= 2, "two activities to start")
    emulator.kill()
    first_run = read_marks(marks, "activity")
    assert len(first_run) == 2

    gate.write_text("open")
    emulator.start()
    _wait_for(
        lambda: emulator.status("crash-1").get("runtimeStatus") == "Completed",
        "the instance to complete after the restart",
    )
    status = emulator.status("crash-1")
    assert status["output"] == sum(n * n for n in range(1, 9))
    # at least once: the two interrupted activities ran again
    ran = read_marks(marks, "activity")
    assert sorted(set(ran)) == list(range(1, 9))
    assert len(ran) >= 10


@pytest.mark.slow
def test_sigterm_stops_while_an_activity_is_blocked(crash_env: tuple[Emulator, Path, Path]) -> None:
    emulator, marks, _gate = crash_env
    emulator.start()
    url = f"{emulator.base}{WEBHOOKS}/orchestrators/fan_out/term-1?code={SYSTEM_KEY}"
    assert _http("POST", url, json.dumps("1").encode())[0] == 202
    _wait_for(lambda: len(read_marks(marks, "activity")) >= 1, "the activity to start")
    assert emulator.process is not None
    emulator.process.terminate()
    assert emulator.process.wait(timeout=60) == 0
