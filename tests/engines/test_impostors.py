"""No password for an impostor (issue 10, section 4): a server that offers no TLS and asks
for the password in clear text gets nothing from any driver or tool the product runs.

- TLS required (require, the default, and verify-full): every connection stops before
  authenticating: psycopg, pg_dump, psql, PyMySQL, mariadb-dump and mariadb answer no
  authentication request at all.
- PostgreSQL without TLS (disable, prefer): libpq refuses the cleartext request
  (require_auth=!password); the tools are ones whose libpq can (Debian's pg_dump 15
  cannot: the bundled 18 is taken). PyMySQL refuses mysql_clear_password without TLS.
  The MariaDB 10.11 tools cannot refuse it: tls_mode disable is for trusted networks only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from shared.engines import postgres
from shared.engines.base import ConnectionSpec, ToolCommand
from shared.engines.mysql import MySqlEngine
from shared.engines.postgres import PostgresEngine
from shared.engines.tools import find_all, knows_require_auth
from shared.models import Engine, TlsMode
from tests.impostors import Impostor, MySqlImpostor, PostgresImpostor, impostor

PASSWORD = "impostor-bait-Pw9"
REQUIRED = (TlsMode.REQUIRE, TlsMode.VERIFY_FULL)


def _spec(engine: Engine, port: int, tls_mode: TlsMode) -> ConnectionSpec:
    return ConnectionSpec(
        engine=engine, host="127.0.0.1", port=port, username="app", password=PASSWORD,
        database="shop", tls_mode=tls_mode, connect_timeout_seconds=5,
    )  # fmt: skip


def _run(command: ToolCommand) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command.argv, env=command.process_env(), stdin=subprocess.DEVNULL,
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def pg_impostor() -> Iterator[Impostor]:
    with impostor(PostgresImpostor) as server:
        yield server


@pytest.fixture
def mysql_impostor() -> Iterator[Impostor]:
    with impostor(MySqlImpostor) as server:
        yield server


@pytest.mark.parametrize("mode", list(TlsMode))
def test_psycopg_sends_no_password_to_an_impostor(pg_impostor: Impostor, mode: TlsMode) -> None:
    result = PostgresEngine().test_connection(_spec(Engine.POSTGRESQL, pg_impostor.port, mode))
    assert not result.ok
    assert not pg_impostor.captured(PASSWORD)
    if mode in REQUIRED:
        assert not pg_impostor.answered


@pytest.fixture
def pg15_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The impostor claims PostgreSQL 15: the tool for it would be Debian's pg_dump 15,
    whose libpq cannot refuse a cleartext request."""
    monkeypatch.setattr(PostgresEngine, "server_major_and_address", lambda self, spec: (15, None))


@pytest.mark.parametrize("mode", list(TlsMode))
@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_pg_dump_and_psql_send_no_password_to_an_impostor(
    pg_impostor: Impostor, pg15_server: None, tmp_path: Path, build: str, mode: TlsMode
) -> None:
    spec = _spec(Engine.POSTGRESQL, pg_impostor.port, mode)
    command_for: AbstractContextManager[ToolCommand] = getattr(PostgresEngine(), build)(
        spec, tmp_path
    )
    with command_for as command:
        completed = _run(command)
    assert completed.returncode != 0
    assert pg_impostor.connections, completed.stderr
    assert not pg_impostor.captured(PASSWORD), completed.stderr
    if mode in REQUIRED:
        assert not pg_impostor.answered
    else:
        assert b"require_auth" in b" ".join(a.encode() for a in command.argv)
        assert b"server requested a cleartext password" in completed.stderr


def test_a_libpq_too_old_to_refuse_fails_closed(
    pg_impostor: Impostor, pg15_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were Debian's pg_dump 15 taken anyway, it stops at the option it does not know
    (it would ignore a PGREQUIREAUTH variable and answer in clear text)."""
    debian = next((tool for tool in find_all("pg_dump") if not knows_require_auth(tool)), None)
    if debian is None:
        pytest.skip("every pg_dump here has libpq 16+")
    monkeypatch.setattr(postgres, "find_postgres_tool", lambda *args, **kwargs: debian)
    spec = _spec(Engine.POSTGRESQL, pg_impostor.port, TlsMode.DISABLE)
    with PostgresEngine().dump_command(spec, tmp_path) as command:
        completed = _run(command)
    assert b'invalid connection option "require_auth"' in completed.stderr
    assert not pg_impostor.connections


@pytest.mark.parametrize("mode", list(TlsMode))
def test_pymysql_sends_no_password_to_an_impostor(mysql_impostor: Impostor, mode: TlsMode) -> None:
    result = MySqlEngine().test_connection(_spec(Engine.MARIADB, mysql_impostor.port, mode))
    assert not result.ok
    assert mysql_impostor.connections
    assert not mysql_impostor.received_in_clear(PASSWORD)
    if mode in REQUIRED:
        assert not mysql_impostor.answered and not mysql_impostor.captured(PASSWORD)
        assert result.error_kind == "tls"


@pytest.mark.parametrize("mode", REQUIRED)
@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_mariadb_tools_send_no_password_to_an_impostor(
    mysql_impostor: Impostor, tmp_path: Path, build: str, mode: TlsMode
) -> None:
    spec = _spec(Engine.MARIADB, mysql_impostor.port, mode)
    with getattr(MySqlEngine(), build)(spec, tmp_path) as command:
        completed = _run(command)
    assert completed.returncode != 0
    assert mysql_impostor.connections, completed.stderr
    assert not mysql_impostor.answered, completed.stderr
    assert not mysql_impostor.captured(PASSWORD)
    assert b"SSL is required, but the server does not support it" in completed.stderr
