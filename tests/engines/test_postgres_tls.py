"""TLS end to end: the psycopg connection and the embedded PostgreSQL 18 client tools
(whose own libpq has no TLS; see shared/engines/tools.py) against a TLS-only server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.engines import postgres, tools
from shared.engines.base import ConnectionErrorKind, ToolCommand
from shared.engines.postgres import COMPLETION_MARKER, PostgresEngine
from shared.models import TlsMode
from tests.engines.conftest import pg15_spec, run_dump
from tests.engines.tls_server import SERVER_BIN, TlsServer, start_tls_server

ENGINE = PostgresEngine()


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    if not SERVER_BIN.is_dir():
        pytest.skip(f"no PostgreSQL server binaries in {SERVER_BIN}")
    server = start_tls_server()
    yield server
    server.stop()


def test_require_connects_and_verify_full_rejects_a_self_signed_server(
    tls_server: TlsServer,
) -> None:
    required = ENGINE.test_connection(
        pg15_spec("postgres", port=tls_server.port, tls_mode=TlsMode.REQUIRE)
    )
    assert required.ok, required.message
    verified = ENGINE.test_connection(
        pg15_spec("postgres", port=tls_server.port, tls_mode=TlsMode.VERIFY_FULL)
    )
    assert verified.error_kind is ConnectionErrorKind.TLS, verified.message


def test_embedded_pg_dump_requires_tls_through_the_preload(
    tls_server: TlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = tools.find_postgres_tool("pg_dump", None)
    assert newest.source == "embedded" and "LD_PRELOAD" in newest.env
    monkeypatch.setattr(postgres, "find_postgres_tool", lambda name, major, **_: newest)
    spec = pg15_spec("postgres", port=tls_server.port, tls_mode=TlsMode.REQUIRE)
    with ENGINE.dump_command(spec, tmp_path) as command:
        assert command.env["PGSSLMODE"] == "require"
        dump = run_dump(command, tmp_path / "dump.sql")
        without_preload = {k: v for k, v in command.env.items() if k != "LD_PRELOAD"}
        bare = run_dump(ToolCommand(command.argv, without_preload), tmp_path / "bare.sql")
    assert dump.returncode == 0, dump.stderr
    assert COMPLETION_MARKER in dump.path.read_bytes()
    assert bare.returncode != 0 and b"SSL support is not compiled in" in bare.stderr
