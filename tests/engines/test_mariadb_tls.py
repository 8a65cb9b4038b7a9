"""MariaDB over TLS end to end, against a TLS server whose certificate a test CA signed:
what `require` means for PyMySQL (encrypted) and for the MariaDB 10.11 tools (encrypted
and verified: the only way those clients refuse a server without TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from shared.engines.base import ConnectionErrorKind, ConnectionSpec
from shared.engines.mysql import COMPLETION_MARKER, MySqlEngine
from shared.models import Engine, TlsMode
from tests.engines.conftest import run_dump
from tests.engines.mariadb_tls_server import (
    PASSWORD,
    SERVER,
    USER,
    MariaDbTlsServer,
    start_mariadb_tls_server,
)

ENGINE = MySqlEngine(Engine.MARIADB)


@pytest.fixture(scope="module")
def tls_server() -> Iterator[MariaDbTlsServer]:
    if not SERVER.exists():
        pytest.skip(f"no MariaDB server binary at {SERVER}")
    server = start_mariadb_tls_server()
    with pymysql.connect(unix_socket=str(server.socket_path), user="root") as conn:
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE shop")
            cursor.execute("CREATE TABLE shop.items (id INT PRIMARY KEY)")
            cursor.execute("INSERT INTO shop.items VALUES (1), (2), (3)")
        conn.commit()
    yield server
    server.stop()


def _spec(server: MariaDbTlsServer, mode: TlsMode) -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.MARIADB, host="127.0.0.1", port=server.port, username=USER,
        password=PASSWORD, database="shop", tls_mode=mode, connect_timeout_seconds=5,
    )  # fmt: skip


def test_pymysql_require_encrypts_without_verifying(tls_server: MariaDbTlsServer) -> None:
    assert ENGINE.test_connection(_spec(tls_server, TlsMode.REQUIRE)).ok
    verified = ENGINE.test_connection(_spec(tls_server, TlsMode.VERIFY_FULL))
    assert verified.error_kind is ConnectionErrorKind.TLS


def test_pymysql_verify_full_trusts_the_ca_in_ssl_cert_file(
    tls_server: MariaDbTlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))
    assert ENGINE.test_connection(_spec(tls_server, TlsMode.VERIFY_FULL)).ok


@pytest.mark.parametrize("mode", [TlsMode.REQUIRE, TlsMode.VERIFY_FULL])
def test_the_dump_tool_requires_a_certificate_it_can_verify(
    tls_server: MariaDbTlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: TlsMode
) -> None:
    with ENGINE.dump_command(_spec(tls_server, mode), tmp_path) as command:
        untrusted = run_dump(command, tmp_path / "untrusted.sql")
    assert untrusted.returncode != 0
    assert b"certificate" in untrusted.stderr

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))  # reaches the tool
    with ENGINE.dump_command(_spec(tls_server, mode), tmp_path) as command:
        trusted = run_dump(command, tmp_path / "trusted.sql")
    assert trusted.returncode == 0, trusted.stderr
    dump = trusted.path.read_bytes()
    assert b"INSERT INTO `items` VALUES" in dump and COMPLETION_MARKER in dump
