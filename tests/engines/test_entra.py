"""`auth: entra` servers: the app's identity gets an Entra ID token as each connection opens
and hands it to the driver and the client tools like a password.

A stand-in credential plays the managed identity (tests/engines/entra_stand_in.py); the
databases that accept its token are real: a MariaDB with TLS whose user's password is the
token, and a throwaway PostgreSQL 15 with TLS and scram-sha-256 whose role's password is
the token. Azure itself (its token check, mysql_clear_password, sessions outliving their
token) is not reachable from here: unverified.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest

from shared import entra_tokens
from shared.credentials import CredentialsError, connection_spec_for, server_spec_for
from shared.engines import mysql
from shared.engines.base import ConnectionErrorKind, EngineError
from shared.engines.mysql import MySqlEngine
from shared.engines.postgres import COMPLETION_MARKER, PostgresEngine
from shared.entra_tokens import DEFAULT_SCOPE, DatabaseTokens, TokenUnavailable, host_allowed
from shared.models import Database, Engine, Server, ServerAuth, TlsMode
from shared.settings import load_settings
from tests.engines.conftest import run_dump, run_restore
from tests.engines.entra_stand_in import BrokenCredential, StandInCredential, fake_token
from tests.engines.mariadb_tls_server import SERVER, MariaDbTlsServer, start_mariadb_tls_server
from tests.engines.tls_server import SERVER_BIN, TlsServer, start_tls_server

ENTRA_USER = "dilux-app"


class NoSecrets:
    """A secret store that must not be asked: Entra servers have no password anywhere."""

    def get(self, name: str) -> str | None:
        raise AssertionError(f"the secret store was asked for {name}")

    def set(self, name: str, value: str) -> None:
        raise AssertionError("the secret store was written")

    def delete(self, name: str) -> None:
        raise AssertionError("the secret store was written")


def settings(hosts: str = "localhost") -> object:
    return load_settings(
        secret_store="local", backup_storage_account_name="unused", entra_database_hosts=hosts
    )


def entra_server(engine: Engine, port: int, **changes: object) -> Server:
    values: dict[str, object] = {
        "id": "azure-db", "name": "azure", "engine": engine, "host": "localhost", "port": port,
        "username": ENTRA_USER, "tls_mode": TlsMode.VERIFY_FULL, "auth": ServerAuth.ENTRA,
    }  # fmt: skip
    return Server(**{**values, **changes})


@pytest.fixture
def identity() -> Iterator[StandInCredential]:
    """The app's identity, handing out one token (set `identity._tokens` for more)."""
    credential = StandInCredential(fake_token())
    entra_tokens.use_credential(credential)
    yield credential
    entra_tokens.use_credential(None)


# --- the token cache and where a token may go ----------------------------------------------


def test_a_token_is_reused_until_five_minutes_before_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = fake_token(), fake_token()
    credential = StandInCredential(first, second, lifetime_seconds=3600)
    tokens = DatabaseTokens(credential)
    now = time.time()
    assert tokens.token() == tokens.token() == first
    assert credential.scopes == [(DEFAULT_SCOPE,)]
    monkeypatch.setattr(time, "time", lambda: now + 3600 - 301)
    assert tokens.token() == first
    monkeypatch.setattr(time, "time", lambda: now + 3600 - 299)
    assert tokens.token() == second and len(credential.scopes) == 2


def test_no_identity_is_an_auth_failure_that_names_no_detail() -> None:
    with pytest.raises(TokenUnavailable) as raised:
        DatabaseTokens(BrokenCredential()).token()
    assert "CredentialUnavailableError" in str(raised.value)
    assert "IMDS" not in str(raised.value)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("shop.postgres.database.azure.com", True),
        ("SHOP.MySQL.Database.Azure.com.", True),
        ("postgres.database.azure.com", False),  # the suffix itself is no server
        ("shop.postgres.database.azure.com.evil.example", False),
        ("evilpostgres.database.azure.com.example", False),
        ("127.0.0.1", False),
        ("shop.database.windows.net", False),  # Azure SQL takes tokens another way
    ],
)
def test_tokens_go_only_to_azure_database_hosts(host: str, allowed: bool) -> None:
    defaults = entra_tokens.DEFAULT_HOSTS.split(",")
    assert host_allowed(host, defaults) is allowed
    assert host_allowed("localhost", ["localhost"]) and not host_allowed("localhost", defaults)


def test_a_spec_sends_its_token_only_to_its_own_verified_address(
    identity: StandInCredential,
) -> None:
    server = entra_server(Engine.POSTGRESQL, 5432)
    spec = server_spec_for(server, NoSecrets(), settings(), "shop")  # type: ignore[arg-type]
    assert spec.password.get_secret_value() == ""
    token = spec.password_to_send()
    assert token == identity._tokens[0]
    shown = repr(spec) + str(spec) + json.dumps(spec.model_dump(mode="json"))
    assert token not in shown and "entra" not in spec.model_dump()
    refusals = {
        "weaker TLS": ({"tls_mode": TlsMode.REQUIRE}, ConnectionErrorKind.TLS),
        "another host": ({"host": "attacker.example"}, ConnectionErrorKind.AUTH_FAILED),
        "another port": ({"port": 6432}, ConnectionErrorKind.AUTH_FAILED),
        "another user": ({"username": "admin"}, ConnectionErrorKind.AUTH_FAILED),
    }
    for why, (change, kind) in refusals.items():
        with pytest.raises(EngineError) as raised:
            spec.model_copy(update=change).password_to_send()
        assert raised.value.kind is kind, why
        assert token not in str(raised.value), why


def test_no_token_for_a_host_outside_azure_whatever_the_admin_registered(
    identity: StandInCredential,
) -> None:
    server = entra_server(Engine.POSTGRESQL, 5432, host="attacker.example")
    azure_only = settings(entra_tokens.DEFAULT_HOSTS)
    spec = server_spec_for(server, NoSecrets(), azure_only, "shop")  # type: ignore[arg-type]
    with pytest.raises(EngineError) as raised:
        spec.password_to_send()
    assert raised.value.kind is ConnectionErrorKind.AUTH_FAILED
    assert "not an Azure database host" in raised.value.message
    assert identity.scopes == []  # not even asked for one


def test_a_database_of_an_entra_server_cannot_bring_its_own_login(
    identity: StandInCredential,
) -> None:
    server = entra_server(Engine.POSTGRESQL, 5432)
    own = Database(
        id="shop", server_id=server.id, name="shop", use_server_credentials=False,
        username="someone", has_password=True,
    )  # fmt: skip
    with pytest.raises(CredentialsError, match="must use the server's credentials"):
        connection_spec_for(server, own, NoSecrets(), settings())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("engine", "changes", "problem"),
    [
        (Engine.POSTGRESQL, {"tls_mode": TlsMode.REQUIRE}, "verify-full"),
        (Engine.MYSQL, {"has_password": True}, "no password"),
        (Engine.SQLSERVER, {}, "postgresql and mysql"),
        (Engine.MARIADB, {}, "postgresql and mysql"),
    ],
)
def test_an_entra_server_row_must_be_safe(
    engine: Engine, changes: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        entra_server(engine, 5432, **changes)


# --- real servers that take the token as a password -----------------------------------------


@pytest.fixture(scope="module")
def mariadb_tls() -> Iterator[MariaDbTlsServer]:
    if not SERVER.exists():
        pytest.skip(f"no MariaDB server binary at {SERVER}")
    server = start_mariadb_tls_server()
    with _root(server) as cursor:
        cursor.execute("CREATE DATABASE shop")
        cursor.execute("CREATE TABLE shop.items (id INT PRIMARY KEY, name TEXT)")
        cursor.execute("INSERT INTO shop.items VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    yield server
    server.stop()


def _root(server: MariaDbTlsServer) -> pymysql.cursors.Cursor:
    conn = pymysql.connect(unix_socket=str(server.socket_path), user="root", autocommit=True)
    return conn.cursor()


def _accept_token(server: MariaDbTlsServer, token: str) -> None:
    """The database user whose password is the token (what Azure checks, here)."""
    with _root(server) as cursor:
        cursor.execute(f"CREATE OR REPLACE USER '{ENTRA_USER}'@'%%' IDENTIFIED BY %s", (token,))
        cursor.execute(f"GRANT ALL ON *.* TO '{ENTRA_USER}'@'%'")


@pytest.fixture
def trusted_ca(mariadb_tls: MariaDbTlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(mariadb_tls.ca_file))  # also reaches the tools


def test_mariadb_takes_the_token_as_password_for_test_dump_and_restore(
    mariadb_tls: MariaDbTlsServer, trusted_ca: None, identity: StandInCredential, tmp_path: Path
) -> None:
    token = identity._tokens[0]
    _accept_token(mariadb_tls, token)
    engine = MySqlEngine(Engine.MYSQL)
    server = entra_server(Engine.MYSQL, mariadb_tls.port)
    spec = server_spec_for(server, NoSecrets(), settings(), "shop")  # type: ignore[arg-type]
    tested = engine.test_connection(spec)
    assert tested.ok, tested.message
    with engine.dump_command(spec, tmp_path) as command:
        [option_file] = [p for p in tmp_path.iterdir() if p.name.startswith(".my.cnf")]
        assert option_file.stat().st_mode & 0o777 == 0o600
        assert token in option_file.read_text()
        dumped = run_dump(command, tmp_path / "shop.sql")
    assert dumped.returncode == 0, dumped.stderr
    assert dumped.cmdlines and all(token.encode() not in line for line in dumped.cmdlines)
    assert token not in json.dumps(command.env)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".my.cnf")]
    assert b"INSERT INTO `items` VALUES" in dumped.path.read_bytes()

    with _root(mariadb_tls) as cursor:
        cursor.execute("CREATE DATABASE shop_restored")
    target = spec.model_copy(update={"database": "shop_restored"})
    with engine.restore_command(target, tmp_path) as command:
        code, stderr = run_restore(command, dumped.path)
    assert code == 0, stderr
    with _root(mariadb_tls) as cursor:
        cursor.execute("SELECT count(*) FROM shop_restored.items")
        assert cursor.fetchone() == (3,)


def test_an_expiring_token_is_replaced_before_the_next_connection(
    mariadb_tls: MariaDbTlsServer,
    trusted_ca: None,
    identity: StandInCredential,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = fake_token(), fake_token()
    identity._tokens[:] = [first, second]
    _accept_token(mariadb_tls, first)
    server = entra_server(Engine.MYSQL, mariadb_tls.port)
    spec = server_spec_for(server, NoSecrets(), settings(), "shop")  # type: ignore[arg-type]
    with mysql._connect(spec) as session:  # authenticated with the first token
        _accept_token(mariadb_tls, second)  # the first no longer signs anyone in
        now = time.time()
        monkeypatch.setattr(time, "time", lambda: now + 3600 - 60)  # first about to expire
        with mysql._connect(spec) as fresh:  # a new connection: a fresh token
            assert fresh.cursor().execute("SELECT 1") == 1
        with session.cursor() as cursor:  # the open session goes on
            cursor.execute("SELECT count(*) FROM shop.items")
            assert cursor.fetchone() == (3,)
    assert len(identity.scopes) == 2


def test_a_refused_token_is_an_auth_failure(
    mariadb_tls: MariaDbTlsServer, trusted_ca: None, identity: StandInCredential
) -> None:
    _accept_token(mariadb_tls, fake_token())  # the database expects another identity
    server = entra_server(Engine.MYSQL, mariadb_tls.port)
    spec = server_spec_for(server, NoSecrets(), settings(), "shop")  # type: ignore[arg-type]
    tested = MySqlEngine(Engine.MYSQL).test_connection(spec)
    assert tested.error_kind is ConnectionErrorKind.AUTH_FAILED
    assert identity._tokens[0] not in (tested.message or "")


@pytest.fixture(scope="module")
def pg_scram_tls() -> Iterator[TlsServer]:
    if not SERVER_BIN.is_dir():
        pytest.skip(f"no PostgreSQL server binaries in {SERVER_BIN}")
    server = start_tls_server(host_auth="scram-sha-256")
    yield server
    server.stop()


def _pg_admin(server: TlsServer) -> psycopg.Connection:
    return psycopg.connect(
        host=str(server.root), port=server.port, user="postgres", dbname="postgres",
        autocommit=True,
    )  # fmt: skip


def test_postgresql_takes_the_token_as_password_for_dump_and_restore(
    pg_scram_tls: TlsServer,
    identity: StandInCredential,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = identity._tokens[0]
    monkeypatch.setenv("SSL_CERT_FILE", str(pg_scram_tls.data / "server.crt"))
    with _pg_admin(pg_scram_tls) as conn:
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                psycopg.sql.Identifier(ENTRA_USER), psycopg.sql.Literal(token)
            )
        )
        conn.execute(f'CREATE DATABASE shop OWNER "{ENTRA_USER}"')
    engine = PostgresEngine()
    server = entra_server(Engine.POSTGRESQL, pg_scram_tls.port)
    spec = server_spec_for(server, NoSecrets(), settings(), "shop")  # type: ignore[arg-type]
    with psycopg.connect(
        host="localhost", port=pg_scram_tls.port, user=ENTRA_USER, dbname="shop",
        password=token, sslmode="require",
    ) as conn:  # fmt: skip
        conn.execute("CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 5) g")
    tested = engine.test_connection(spec)
    assert tested.ok, tested.message
    with engine.dump_command(spec, tmp_path) as command:
        dumped = run_dump(command, tmp_path / "shop.sql")
    assert dumped.returncode == 0, dumped.stderr
    assert dumped.cmdlines and all(token.encode() not in line for line in dumped.cmdlines)
    assert token not in json.dumps(command.env)
    assert COMPLETION_MARKER in dumped.path.read_bytes()

    target = spec.model_copy(update={"database": "shop_restored"})
    engine.create_database(target)
    with engine.restore_command(target, tmp_path) as command:
        code, stderr = run_restore(command, dumped.path)
    assert code == 0, stderr
    with _pg_admin(pg_scram_tls) as conn:
        conn.execute("SELECT 1")
    with psycopg.connect(
        host=str(pg_scram_tls.root), port=pg_scram_tls.port, user="postgres",
        dbname="shop_restored",
    ) as conn:  # fmt: skip
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
    wrong = spec.model_copy(update={"entra": None})  # no token: scram refuses
    assert engine.test_connection(wrong).error_kind is ConnectionErrorKind.AUTH_FAILED


def test_mysql_clients_are_allowed_to_send_the_token_as_azure_asks(
    identity: StandInCredential,
) -> None:
    """Azure's MySQL checks a token with mysql_clear_password: MySQL's own clients must be
    allowed to answer it; MariaDB's dump tool would refuse the option (and may anyway)."""
    from shared.engines.tools import ResolvedTool

    mysql_tool = ResolvedTool("mysqldump", Path("/x/mysqldump"), "mysqldump  Ver 8.0.36")
    mariadb_tool = ResolvedTool("mariadb-dump", Path("/x/d"), "Distrib 10.11.19-MariaDB")
    server = entra_server(Engine.MYSQL, 3306)
    spec = server_spec_for(server, NoSecrets(), settings(), "shop")  # type: ignore[arg-type]
    assert "enable-cleartext-plugin" in mysql.defaults_file_text(spec, mysql_tool)
    assert "enable-cleartext-plugin" not in mysql.defaults_file_text(spec, mariadb_tool)
    password_spec = spec.model_copy(update={"entra": None})
    assert "enable-cleartext-plugin" not in mysql.defaults_file_text(password_spec, mysql_tool)
