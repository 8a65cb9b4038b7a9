"""The command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from emulator.cli import parse_args

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    options = parse_args([])
    assert (options.host, options.port, options.virtual_time) == ("127.0.0.1", 7071, False)
    assert options.state_path == Path(".state/emulator.sqlite")


def test_options() -> None:
    options = parse_args(
        [
            "--app-dir",
            "x",
            "--host",
            "localhost",
            "--port",
            "0",
            "--state",
            "s.db",
            "--virtual-time",
        ]
    )
    assert (options.app_dir, options.port, options.state_path) == (Path("x"), 0, Path("s.db"))
    assert options.host == "localhost" and options.virtual_time


def test_an_app_that_cannot_load_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "--app-dir",
            str(tmp_path),
            "--port",
            "0",
            "--state",
            str(tmp_path / "s.sqlite"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "function_app.py does not exist" in result.stderr
