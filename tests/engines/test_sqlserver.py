"""SQL Server engine at its own seam: no SQL Server can run here, so a fake connection
records the statements built and answers with canned rows or driver-like errors.
What a real server does with these statements is NOT verified by these tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shared.engines.base import ConnectionErrorKind, ConnectionSpec, EngineError
from shared.engines.sqlserver import SqlServerEngine
from shared.engines.sqlserver_sql import (
    backup_statement,
    classify,
    connection_string,
    plan_moves,
    quote_name,
    restore_statement,
)
from shared.models import Engine, TlsMode

SAS = SecretStr("sv=2024-11-04&ss=b&srt=co&sp=rwdlac&sig=s3cr3t%2Bsig'quote")
URL = "https://acct.blob.core.windows.net/backups/srv/db/2026/01/01/x.bak"
CONTAINER = "https://acct.blob.core.windows.net/backups"


def sql_spec(database: str = "Sales", **changes: object) -> ConnectionSpec:
    values: dict[str, object] = {
        "engine": Engine.SQLSERVER,
        "host": "sql.example.net",
        "port": 1433,
        "username": "backup_operator",
        "password": "pw}with;odd=chars",
        "database": database,
        "tls_mode": TlsMode.VERIFY_FULL,
    }
    return ConnectionSpec(**{**values, **changes})


@dataclass
class FakeServer:
    """Answers statements by the first matching fragment; records everything."""

    edition: int = 3
    answers: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    connect_error: str | None = None
    executed: list[tuple[str, Any]] = field(default_factory=list)
    connections: list[tuple[str, int]] = field(default_factory=list)

    def connect(self, connection: str, timeout: int) -> FakeConnection:
        self.connections.append((connection, timeout))
        if self.connect_error:
            raise RuntimeError(self.connect_error)
        return FakeConnection(self)

    def rows_for(self, statement: str) -> list[tuple[Any, ...]]:
        defaults = {
            "EngineEdition": [(self.edition,)],
            "ProductVersion": [("16.0.4135.4",)],
            "sys.databases WHERE name": [],
        }
        for fragment, rows in {**defaults, **self.answers}.items():
            if fragment in statement:
                return rows
        return []


@dataclass
class FakeConnection:
    server: FakeServer

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.server)

    def close(self) -> None:
        pass


@dataclass
class FakeCursor:
    server: FakeServer
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def execute(self, statement: str, params: Any = None) -> None:
        self.server.executed.append((statement, params))
        for fragment, message in self.server.failures.items():
            if fragment in statement:
                raise RuntimeError(message)
        self.rows = self.server.rows_for(statement)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def nextset(self) -> bool:
        return False


def engine_with(server: FakeServer) -> SqlServerEngine:
    connect: Callable[[str, int], Any] = server.connect
    return SqlServerEngine(connect=connect)


# --- statements ------------------------------------------------------------------------------


def test_quote_name_doubles_closing_brackets() -> None:
    assert quote_name("a]b") == "[a]]b]"
    assert quote_name("x; DROP DATABASE y --") == "[x; DROP DATABASE y --]"


def test_backup_statement_binds_every_value() -> None:
    statement, params = backup_statement("Sales", [URL, URL.replace("x.bak", "y.bak")])
    assert "BACKUP DATABASE @database TO URL = @url0, URL = @url1" in statement
    assert "COPY_ONLY, CHECKSUM, COMPRESSION" in statement
    assert "Sales" not in statement and URL not in statement
    assert params == ["Sales", URL, URL.replace("x.bak", "y.bak")]
    assert "FORMAT" not in statement  # never overwrites an existing blob


def test_restore_statement_moves_files_and_refuses_replace_by_default() -> None:
    moves = [("Sales", "/data/R_Sales.mdf"), ("Sales_log", "/log/R_Sales_log.ldf")]
    statement, params = restore_statement("R", [URL], moves, replace=False)
    assert "RESTORE DATABASE @database FROM URL = @url0 WITH CHECKSUM" in statement
    assert "MOVE @logical0 TO @physical0, MOVE @logical1 TO @physical1" in statement
    assert "REPLACE" not in statement
    assert params == ["R", URL, "Sales", "/data/R_Sales.mdf", "Sales_log", "/log/R_Sales_log.ldf"]
    assert "REPLACE" in restore_statement("R", [URL], moves, replace=True)[0]


def test_plan_moves_names_files_after_the_target() -> None:
    files = [("Sales", "D"), ("Sales 2", "D"), ("Sales_log", "L")]
    moves = plan_moves("Sales copy", files, "C:\\Data\\", "C:\\Logs")
    assert moves == [
        ("Sales", "C:\\Data\\Sales_copy_Sales.mdf"),
        ("Sales 2", "C:\\Data\\Sales_copy_Sales_2.ndf"),
        ("Sales_log", "C:\\Logs\\Sales_copy_Sales_log.ldf"),
    ]


def test_connection_string_braces_values_and_maps_tls() -> None:
    text = connection_string(sql_spec())
    assert "PWD={pw}}with;odd=chars};" in text
    assert "Encrypt={yes};TrustServerCertificate={no};" in text
    assert "Server={tcp:sql.example.net,1433};" in text
    require = connection_string(sql_spec(tls_mode=TlsMode.REQUIRE))
    assert "Encrypt={yes};TrustServerCertificate={yes};" in require


# --- the engine through the fake -------------------------------------------------------------


def test_backup_creates_the_credential_then_backs_up() -> None:
    server = FakeServer(answers={"backup_size": [(1000, 400, 1)]})
    result = engine_with(server).backup_to_url(sql_spec(), [URL], SAS)
    credential, backup = server.executed[-3], server.executed[-2]
    assert "CREDENTIAL" in credential[0] and credential[1] == (CONTAINER, SAS.get_secret_value())
    assert SAS.get_secret_value() not in credential[0]
    assert backup[0].startswith("DECLARE @database sysname = ?;")
    assert backup[1] == ["Sales", URL]
    assert (result.raw_bytes, result.stored_bytes, result.has_checksums) == (1000, 400, True)
    assert "Database={master}" in server.connections[0][0]


def test_azure_sql_database_is_not_supported() -> None:
    server = FakeServer(edition=5)
    with pytest.raises(EngineError) as raised:
        engine_with(server).backup_to_url(sql_spec(), [URL], SAS)
    assert raised.value.kind is ConnectionErrorKind.NOT_SUPPORTED
    assert "not supported yet" in raised.value.message
    assert not any("BACKUP" in statement for statement, _ in server.executed)


def test_a_failing_credential_never_reveals_the_sas() -> None:
    secret = SAS.get_secret_value()
    server = FakeServer(failures={"CREDENTIAL": f"Incorrect syntax near '{secret}'"})
    with pytest.raises(EngineError) as raised:
        engine_with(server).backup_to_url(sql_spec(), [URL], SAS)
    assert secret not in str(raised.value)
    assert "***" in raised.value.message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_restore_plans_moves_and_refuses_an_existing_database() -> None:
    server = FakeServer(
        answers={
            "FILELISTONLY": [("Sales", "/var/opt/mssql/data/Sales.mdf", "D")],
            "InstanceDefaultDataPath": [("/var/opt/mssql/data/", "/var/opt/mssql/log/")],
        }
    )
    engine_with(server).restore_from_url(sql_spec("Restored"), [URL], SAS)
    statement, params = server.executed[-1]
    assert "RESTORE DATABASE @database" in statement and "MOVE @logical0" in statement
    assert params == ["Restored", URL, "Sales", "/var/opt/mssql/data/Restored_Sales.mdf"]

    exists = FakeServer(answers={"sys.databases WHERE name": [(1,)]})
    with pytest.raises(EngineError) as raised:
        engine_with(exists).restore_from_url(sql_spec("Restored"), [URL], SAS)
    assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST
    assert not any("RESTORE DATABASE" in s for s, _ in exists.executed)


def test_managed_instance_restores_without_moves() -> None:
    server = FakeServer(edition=8)
    engine_with(server).restore_from_url(sql_spec("Restored"), [URL], SAS)
    statement, _ = server.executed[-1]
    assert "MOVE" not in statement
    assert not any("FILELISTONLY" in s for s, _ in server.executed)


def test_urls_outside_blob_storage_are_refused() -> None:
    server = FakeServer()
    for urls in ([], ["http://acct.blob.core.windows.net/c/x.bak"], ["https://evil.example/c/x"]):
        with pytest.raises(EngineError) as raised:
            engine_with(server).backup_to_url(sql_spec(), urls, SAS)
        assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST
    assert not server.connections


def test_manifest_counts_quoted_tables() -> None:
    server = FakeServer(
        answers={"COUNT_BIG": [(7,)], "sys.tables": [("dbo", "Orders]x"), ("sales", "Lines")]}
    )
    manifest = engine_with(server).manifest(sql_spec())
    assert [(t.schema_name, t.name, t.rows) for t in manifest.tables] == [
        ("dbo", "Orders]x", 7),
        ("sales", "Lines", 7),
    ]
    counts = [s for s, _ in server.executed if "COUNT_BIG" in s]
    assert counts[0].endswith("FROM [dbo].[Orders]]x]")


def test_discovery_flags_system_databases() -> None:
    server = FakeServer(answers={"master_files": [("master", 100), ("Sales", None)]})
    found = engine_with(server).list_databases(sql_spec())
    assert [(d.name, d.is_system, d.size_bytes) for d in found] == [
        ("master", True, 100),
        ("Sales", False, None),
    ]


def test_no_dump_or_restore_command(tmp_path: Path) -> None:
    engine = engine_with(FakeServer())
    for build in (engine.dump_command, engine.restore_command):
        with pytest.raises(EngineError) as raised, build(sql_spec(), tmp_path):
            pass
        assert raised.value.kind is ConnectionErrorKind.NOT_SUPPORTED


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("[SQL Server]Login failed for user 'x'. (18456)", ConnectionErrorKind.AUTH_FAILED),
        (
            '[SQL Server]Cannot open database "Nope" requested by the login. (4060)',
            ConnectionErrorKind.DATABASE_MISSING,
        ),
        ("TCP Provider: Error code 0x2749", ConnectionErrorKind.UNREACHABLE),
        ("SSL Provider: certificate verify failed", ConnectionErrorKind.TLS),
        ("Login timeout expired", ConnectionErrorKind.TIMEOUT),
        ("Something unexpected", ConnectionErrorKind.UNKNOWN),
    ],
)
def test_driver_messages_map_to_kinds(message: str, kind: ConnectionErrorKind) -> None:
    assert classify(message) is kind


def test_connection_failure_is_a_result_without_the_password() -> None:
    spec = sql_spec()
    password = spec.password.get_secret_value()
    server = FakeServer(connect_error=f"Login failed for user 'x' with {password}. (18456)")
    result = engine_with(server).test_connection(spec)
    assert not result.ok and result.error_kind is ConnectionErrorKind.AUTH_FAILED
    assert password not in (result.message or "")


def test_bad_database_names_are_refused() -> None:
    server = FakeServer()
    for name in ("-oops", "x; drop", "a]b"):
        with pytest.raises(EngineError) as raised:
            engine_with(server).create_database(sql_spec(name))
        assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST
    assert not server.connections


def test_verify_reads_the_backup_with_checksums() -> None:
    server = FakeServer()
    engine_with(server).verify_url(sql_spec(), [URL], SAS)
    statement, params = server.executed[-1]
    assert statement.endswith("RESTORE VERIFYONLY FROM URL = @url0 WITH CHECKSUM;")
    assert params == [URL]


def test_a_driver_echoing_the_connection_string_reveals_no_password() -> None:
    """The password is written braced with '}' doubled; that form is scrubbed too, and
    the raw driver error is not chained (a logged traceback would print it)."""
    spec = sql_spec()
    server = FakeServer(connect_error=f"cannot parse '{connection_string(spec)}' (08001)")
    with pytest.raises(EngineError) as raised:
        engine_with(server).server_version(spec)
    assert "pw}}with;odd=chars" not in raised.value.message
    assert "with;odd" not in raised.value.message and "PWD={***}" in raised.value.message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
