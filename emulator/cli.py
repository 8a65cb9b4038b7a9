"""Command line: `python -m emulator [--app-dir DIR] [--host H] [--port P] [--rpc-port P]
[--state FILE] [--virtual-time]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from emulator.app_loader import AppLoadError
from emulator.host import EmulatorHost, HostOptions

log = logging.getLogger("emulator")


def parse_args(argv: list[str] | None = None) -> HostOptions:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Run an Azure Functions Python app (HTTP, timer, Durable) on this machine.",
    )
    parser.add_argument("--app-dir", default=".", help="folder holding function_app.py")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7071, help="port to listen on (0: any)")
    parser.add_argument(
        "--rpc-port",
        type=int,
        default=0,
        help="port of the durable client's RPC listener, always on 127.0.0.1 (0: any)",
    )
    parser.add_argument(
        "--state", default=".state/emulator.sqlite", help="SQLite file holding durable state"
    )
    parser.add_argument(
        "--virtual-time",
        action="store_true",
        help="tests: durable timers and timer triggers fire as soon as nothing else runs",
    )
    args = parser.parse_args(argv)
    return HostOptions(
        app_dir=Path(args.app_dir),
        state_path=Path(args.state),
        host=args.host,
        port=args.port,
        virtual_time=args.virtual_time,
        rpc_port=args.rpc_port,
    )


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiohttp's client and server chatter is not useful at INFO
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def serve(options: HostOptions) -> None:
    options.state_path.parent.mkdir(parents=True, exist_ok=True)
    host = EmulatorHost(options)
    await host.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    for line in host.banner():
        print(line, flush=True)
    try:
        await stopping.wait()
    finally:
        log.info("stopping")
        await host.stop()


def _exit_now_if_functions_still_run() -> None:
    """A sync function still running in a worker thread would keep the process alive; its
    durable work is redelivered at the next start (at-least-once), so leave without it."""
    workers = [t for t in threading.enumerate() if t.name.startswith("emulator-")]
    for worker in workers:
        worker.join(timeout=0.2)  # idle pool threads leave at once after shutdown
    busy = [t for t in workers if t.is_alive()]
    if busy:
        log.warning(
            "leaving %d function(s) still running; they run again at the next start", len(busy)
        )
        logging.shutdown()
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    # The durable state (inputs and outputs of every function) is the user's alone: files
    # this process creates are 0600, folders 0700.
    os.umask(0o077)
    configure_logging()
    options = parse_args(argv)
    try:
        asyncio.run(serve(options))
    except AppLoadError as exc:
        log.error("cannot load the app: %s", exc)
        raise SystemExit(2) from exc
    except OSError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from exc
    _exit_now_if_functions_still_run()
