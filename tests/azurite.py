"""An Azurite of a test's own: a fresh process on free ports, empty, that the test may stop
and start again (its data kept in a folder of its own), to see what the app does on a
storage account nothing prepared, or while storage is down."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import AZURITE_ACCOUNT_KEY, ROOT

AZURITE = ROOT / "node_modules" / ".bin" / "azurite"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class OwnAzurite:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = {"blob": _free_port(), "queue": _free_port(), "table": _free_port()}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        endpoints = "".join(
            f"{kind.capitalize()}Endpoint=http://127.0.0.1:{port}/devstoreaccount1;"
            for kind, port in self.ports.items()
        )
        return (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_ACCOUNT_KEY};{endpoints}"
        )

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [str(AZURITE), "--silent", "--skipApiVersionCheck", "--loose"]
        argv += ["--disableTelemetry", "--location", str(self.folder)]
        for kind, port in self.ports.items():
            argv += [f"--{kind}Host", "127.0.0.1", f"--{kind}Port", str(port)]
        log = (self.folder / "azurite.log").open("ab")
        self._process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while not all(_open(port) for port in self.ports.values()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not start; see {self.folder / 'azurite.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        while any(_open(port) for port in self.ports.values()):
            time.sleep(0.05)
