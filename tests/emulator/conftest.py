"""Fixtures for the emulator's host tests: the small test app, hosted in this process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator.testing import RunningEmulator, run_emulator

EMULATOR_APP = Path(__file__).resolve().parent.parent / "emulator_app"
WEBHOOKS = "/runtime/webhooks/durabletask"


@pytest.fixture
def mark_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


def read_marks(folder: Path, kind: str) -> list[object]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{kind}-*.json"))]


@pytest.fixture
async def emulator(tmp_path: Path, mark_dir: Path) -> AsyncIterator[RunningEmulator]:
    env = {"EMULATOR_TEST_MARK_DIR": str(mark_dir)}
    async with run_emulator(EMULATOR_APP, tmp_path / "state.sqlite", env=env) as emu:
        yield emu
