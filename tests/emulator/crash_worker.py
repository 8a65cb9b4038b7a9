"""Run as a script by test_runtime_restart: starts a fan-out whose activities hang, and marks
each activity start in a folder, waiting to be killed with SIGKILL."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator.clock import SystemClock
from tests.emulator.runtime_support import json_input, registry, running
from tests.emulator.test_runtime_restart import fan_out


async def main(state: Path, marks: Path) -> None:
    async def hang_after_mark(text: str) -> str:
        n = int(text)
        (marks / f"{n}-{uuid.uuid4().hex}").touch()
        if n % 2:
            await asyncio.sleep(3600)  # odd items are still running when killed
        return str(n * 10)

    functions = registry({"fan": fan_out})
    functions.activities["work"] = hang_after_mark
    async with running(functions, state, SystemClock(), activity_concurrency=8) as runtime:
        await runtime.start_new("fan", "crash-1", json_input(6))
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
