"""Local state holds whole dumps (Azurite's blobs) and every function's inputs and outputs (the
emulator's SQLite): it is readable by its user only, 0700 folders and 0600 files."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import AZURITE_ACCOUNT_KEY, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from local_storage import azurite_accounts, run_account_key  # what make run uses

EMULATOR_APP = ROOT / "tests" / "emulator_app"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readable_by_others(folder: Path) -> list[str]:
    """Everything under `folder` (itself included) whose mode lets group or others in."""
    found = [folder, *folder.rglob("*")]
    return [
        f"{path.relative_to(folder.parent)} {stat.filemode(path.stat().st_mode)}"
        for path in found
        if not path.is_symlink() and path.stat().st_mode & 0o077
    ]


def stop_listener(port: int) -> None:
    """Ends the process this test started that listens on `port` (found by its port)."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.pid:
            psutil.Process(connection.pid).terminate()
            psutil.Process(connection.pid).wait(10)
            return


def test_services_start_run_keeps_azurite_files_private(tmp_path: Path) -> None:
    # A copy of the project's layout: scripts/services.sh and the npm Azurite.
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "services.sh", tmp_path / "scripts" / "services.sh")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    # What an earlier run left behind, readable by everyone.
    old = tmp_path / ".state" / "azurite" / "__blobstorage__"
    old.mkdir(parents=True, mode=0o755)
    (old / "old-blob").write_bytes(b"dump")
    for path in (tmp_path / ".state", old.parent, old, old / "old-blob"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    ports = {name: str(free_port()) for name in ("BLOB", "QUEUE", "TABLE")}
    env = os.environ | {f"AZURITE_{name}_PORT": port for name, port in ports.items()}
    # Never started with Azurite's public key: without the checkout's own, it refuses.
    unkeyed = {k: v for k, v in env.items() if k != "AZURITE_ACCOUNTS"}
    refused = subprocess.run(
        ["bash", "scripts/services.sh", "start-run"], cwd=tmp_path, env=unkeyed,
        timeout=120, stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 2 and "AZURITE_ACCOUNTS" in refused.stderr
    key = run_account_key(tmp_path / ".state" / "azurite-account-key")
    env |= {"AZURITE_ACCOUNTS": azurite_accounts(key)}
    subprocess.run(
        ["bash", "scripts/services.sh", "start-run"], cwd=tmp_path, env=env, check=True,
        timeout=120, stdin=subprocess.DEVNULL, capture_output=True,
    )  # fmt: skip
    try:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import BlobServiceClient

        endpoint = f"http://127.0.0.1:{ports['BLOB']}/devstoreaccount1"

        def connection(account_key: str) -> str:
            return (
                f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                f"AccountKey={account_key};BlobEndpoint={endpoint};"
            )

        service = BlobServiceClient.from_connection_string(connection(key))
        container = service.create_container("dumps")
        container.upload_blob("dump.sql.zst", b"x" * 100_000)
        # Whoever knows only Azurite's public key reads nothing.
        public = BlobServiceClient.from_connection_string(connection(AZURITE_ACCOUNT_KEY))
        with pytest.raises(HttpResponseError) as refused_read:
            public.get_container_client("dumps").download_blob("dump.sql.zst").readall()
        assert refused_read.value.status_code == 403
        assert readable_by_others(tmp_path / ".state") == []
        assert any((tmp_path / ".state" / "azurite").rglob("*"))  # it did write files
    finally:
        stop_listener(int(ports["BLOB"]))


def test_the_emulator_keeps_its_state_private(tmp_path: Path) -> None:
    state = tmp_path / ".state" / "emulator.sqlite"
    command = [sys.executable, "-m", "emulator", "--app-dir", str(EMULATOR_APP), "--port", "0"]
    process = subprocess.Popen(
        [*command, "--state", str(state)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("Function key"):
                break
        assert state.exists(), "the emulator did not start"
        assert readable_by_others(tmp_path / ".state") == []
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.parametrize("script", ["run.sh", "services.sh"])
def test_the_scripts_that_create_local_state_set_a_private_umask(script: str) -> None:
    # run.sh execs the emulator (whose own umask is tested above) and calls services.sh.
    assert "\numask 077\n" in (ROOT / "scripts" / script).read_text()
