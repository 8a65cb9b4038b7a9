"""SQL Server through `mssql-python`: the server backs up natively with BACKUP DATABASE
... TO URL (it writes the .bak straight to Blob with a SAS credential) and restores with
RESTORE ... FROM URL. No bytes pass through us, so there is no dump or restore command.

UNVERIFIED against a real server: no SQL Server can run where this was written. Tests
cover the statements built, the identifier quoting and the error mapping through a fake
connection passed as `connect` (the seam of this module).

The statements (and why nothing secret or user-given is spliced into them) live in
sqlserver_sql.py. The SAS token appears in no statement text we build, no log and no
error message.

Azure SQL Database (EngineEdition 5) has no BACKUP TO URL: backups and restores answer
NOT_SUPPORTED. On Managed Instance (8) files are placed by the service, so no MOVE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from shared.engines.base import (
    Catalogue,
    ConnectionErrorKind,
    ConnectionResult,
    ConnectionSpec,
    DiscoveredDatabase,
    EngineError,
    ToolCommand,
)
from shared.engines.common import (
    discovered,
    engine_error,
    require_database_name,
    timed_connection_test,
)
from shared.engines.sqlserver_sql import (
    CREDENTIAL_BATCH,
    backup_statement,
    classify,
    connection_string,
    container_url,
    plan_moves,
    quote_name,
    restore_statement,
    url_variables,
)
from shared.models import DumpManifest, Engine

SYSTEM_DATABASES = frozenset({"master", "tempdb", "model", "msdb"})
AZURE_SQL_DATABASE = 5
MANAGED_INSTANCE = 8
# (connection string, login timeout in seconds) -> a DB-API connection in autocommit mode.
Connector = Callable[[str, int], Any]

_LIST_DATABASES = """
SELECT d.name, SUM(CAST(f.size AS bigint)) * 8192
FROM sys.databases d LEFT JOIN sys.master_files f ON f.database_id = d.database_id
GROUP BY d.name ORDER BY d.name
"""
_LIST_TABLES = """
SELECT s.name, t.name FROM sys.tables t JOIN sys.schemas s ON s.schema_id = t.schema_id
WHERE t.is_ms_shipped = 0 ORDER BY s.name, t.name
"""
_BACKUP_SIZES = """
SELECT TOP 1 b.backup_size, b.compressed_backup_size, b.has_backup_checksums
FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily m ON m.media_set_id = b.media_set_id
WHERE b.database_name = ? AND m.physical_device_name = ? ORDER BY b.backup_finish_date DESC
"""


class NativeBackupResult(BaseModel):
    database: str
    urls: list[str]
    server_version: str
    raw_bytes: int | None = None
    stored_bytes: int | None = None
    has_checksums: bool | None = None


class SqlServerEngine:
    engine = Engine.SQLSERVER
    completion_marker = None  # native backups are not SQL text (verify_url checks them)

    def __init__(self, connect: Connector | None = None) -> None:
        self._connect_with = connect or _mssql_connect

    # --- the common interface -----------------------------------------------------------

    def test_connection(self, spec: ConnectionSpec) -> ConnectionResult:
        return timed_connection_test(self.server_version, spec)

    def server_version(self, spec: ConnectionSpec) -> str:
        with self._session(spec) as cursor:
            return _version(cursor)

    def list_databases(self, spec: ConnectionSpec) -> list[DiscoveredDatabase]:
        with self._session(spec, database="master") as cursor:
            rows = _fetch(cursor, _LIST_DATABASES)
        return discovered(rows, SYSTEM_DATABASES)

    def catalogue(self, spec: ConnectionSpec) -> Catalogue:
        require_database_name(spec.database)
        with self._session(spec) as cursor:
            return _catalogue(cursor, count_rows=False)

    def restored_manifest(self, spec: ConnectionSpec, tool_output: bytes | None) -> DumpManifest:
        """The restore tool reports no rows: every table is counted."""
        return self.manifest(spec)

    def manifest(self, spec: ConnectionSpec) -> DumpManifest:
        require_database_name(spec.database)
        with self._session(spec) as cursor:
            catalogue = _catalogue(cursor, count_rows=True)
        return catalogue.manifest(self.engine, spec.database, catalogue.rows or {})

    @contextmanager
    def dump_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        raise _no_tool("backups are not supported yet (BACKUP TO URL is not wired in)")
        yield  # pragma: no cover

    @contextmanager
    def restore_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        raise _no_tool("restores are not supported yet (RESTORE FROM URL is not wired in)")
        yield  # pragma: no cover

    def create_database(self, spec: ConnectionSpec) -> None:
        name = require_database_name(spec.database)
        with self._session(spec, database="master") as cursor:
            if _database_exists(cursor, name):
                raise EngineError(
                    ConnectionErrorKind.INVALID_REQUEST, f"database {name!r} already exists"
                )
            self._run(spec, cursor, f"CREATE DATABASE {quote_name(name)}")

    def drop_database(self, spec: ConnectionSpec) -> None:
        name = require_database_name(spec.database)
        with self._session(spec, database="master") as cursor:
            if not _database_exists(cursor, name):
                return
            single = f"ALTER DATABASE {quote_name(name)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE"
            self._run(spec, cursor, single)
            self._run(spec, cursor, f"DROP DATABASE {quote_name(name)}")

    def is_empty(self, spec: ConnectionSpec) -> bool:
        require_database_name(spec.database)
        with self._session(spec) as cursor:
            rows = _fetch(cursor, "SELECT COUNT(*) FROM sys.objects WHERE is_ms_shipped = 0")
        return rows[0][0] == 0

    # --- native backup and restore ------------------------------------------------------

    def backup_to_url(
        self, spec: ConnectionSpec, urls: Sequence[str], sas_token: SecretStr
    ) -> NativeBackupResult:
        """BACKUP DATABASE to one or more block blobs (stripes: each holds at most about
        200 GB). The blobs must not exist yet: no FORMAT, nothing is overwritten."""
        database = require_database_name(spec.database)
        container = container_url(urls)
        with self._session(spec, database="master") as cursor:
            self._require_native_backup(cursor)
            version = _version(cursor)
            self._set_sas_credential(spec, cursor, container, sas_token)
            statement, params = backup_statement(database, urls)
            self._run(spec, cursor, statement, params)
            sizes = _fetch(cursor, _BACKUP_SIZES, (database, urls[0]))
        raw, stored, checksums = sizes[0] if sizes else (None, None, None)
        return NativeBackupResult(
            database=database,
            urls=list(urls),
            server_version=version,
            raw_bytes=None if raw is None else int(raw),
            stored_bytes=None if stored is None else int(stored),
            has_checksums=None if checksums is None else bool(checksums),
        )

    def restore_from_url(
        self,
        spec: ConnectionSpec,
        urls: Sequence[str],
        sas_token: SecretStr,
        replace: bool = False,
    ) -> None:
        """RESTORE DATABASE `spec.database` from the backup at `urls`. Files are moved to
        the instance's default data and log folders under names derived from the target
        (Managed Instance places them itself). Never over an existing database unless
        `replace`."""
        database = require_database_name(spec.database)
        container = container_url(urls)
        with self._session(spec, database="master") as cursor:
            edition = self._require_native_backup(cursor)
            if _database_exists(cursor, database) and not replace:
                raise EngineError(
                    ConnectionErrorKind.INVALID_REQUEST, f"database {database!r} already exists"
                )
            self._set_sas_credential(spec, cursor, container, sas_token)
            moves = [] if edition == MANAGED_INSTANCE else self._moves(spec, cursor, urls, database)
            statement, params = restore_statement(database, urls, moves, replace)
            self._run(spec, cursor, statement, params)

    def verify_url(self, spec: ConnectionSpec, urls: Sequence[str], sas_token: SecretStr) -> None:
        """RESTORE VERIFYONLY with checksums: the backup is complete and readable."""
        container = container_url(urls)
        with self._session(spec, database="master") as cursor:
            self._require_native_backup(cursor)
            self._set_sas_credential(spec, cursor, container, sas_token)
            declares, names = url_variables(urls)
            sources = ", ".join(f"URL = {name}" for name in names)
            statement = f"{declares}\nRESTORE VERIFYONLY FROM {sources} WITH CHECKSUM;"
            self._run(spec, cursor, statement, list(urls))

    def _set_sas_credential(
        self, spec: ConnectionSpec, cursor: Any, container: str, sas_token: SecretStr
    ) -> None:
        """Creates or replaces the credential named after the container URL, which is
        how BACKUP/RESTORE TO/FROM URL find it. A leading '?' is not part of a SAS."""
        secret = sas_token.get_secret_value().lstrip("?")
        try:
            _execute(cursor, CREDENTIAL_BATCH, (container, secret))
        except Exception as error:
            message = str(error).replace(secret, "***") if secret else str(error)
            # `from None`: a logged traceback must not show the driver's raw message.
            raise engine_error(classify(message), message, spec) from None

    # --- helpers --------------------------------------------------------------------------

    @contextmanager
    def _session(self, spec: ConnectionSpec, database: str | None = None) -> Iterator[Any]:
        try:
            conn = self._connect_with(connection_string(spec, database), _login_timeout(spec))
        except Exception as error:
            # `from None`: the driver's raw message may quote the connection string,
            # which holds the password; only the scrubbed message travels on.
            raise engine_error(classify(str(error)), error, spec) from None
        try:
            cursor = conn.cursor()
            yield cursor
        finally:
            conn.close()

    def _run(self, spec: ConnectionSpec, cursor: Any, statement: str, params: Any = None) -> None:
        try:
            _execute(cursor, statement, params)
        except Exception as error:
            raise engine_error(classify(str(error)), error, spec) from error

    def _require_native_backup(self, cursor: Any) -> int:
        edition = int(_fetch(cursor, "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int)")[0][0])
        if edition == AZURE_SQL_DATABASE:
            raise EngineError(
                ConnectionErrorKind.NOT_SUPPORTED,
                "Azure SQL Database has no BACKUP TO URL: not supported yet "
                "(use its automated backups and long-term retention)",
            )
        return edition

    def _moves(
        self, spec: ConnectionSpec, cursor: Any, urls: Sequence[str], database: str
    ) -> list[tuple[str, str]]:
        declares, names = url_variables(urls)
        sources = ", ".join(f"URL = {name}" for name in names)
        statement = f"{declares}\nRESTORE FILELISTONLY FROM {sources};"
        try:
            files = _fetch(cursor, statement, list(urls))
            paths = _fetch(
                cursor,
                "SELECT CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(260)),"
                " CAST(SERVERPROPERTY('InstanceDefaultLogPath') AS nvarchar(260))",
            )[0]
        except Exception as error:
            raise engine_error(classify(str(error)), error, spec) from error
        # FILELISTONLY columns: LogicalName, PhysicalName, Type ('D' data, 'L' log, ...).
        return plan_moves(database, [(row[0], row[2]) for row in files], paths[0], paths[1])


def _no_tool(message: str) -> EngineError:
    return EngineError(ConnectionErrorKind.NOT_SUPPORTED, f"SQL Server: {message}")


# --- cursor helpers -------------------------------------------------------------------


def _execute(cursor: Any, statement: str, params: Any = None) -> None:
    """Runs a batch and drains every result set: BACKUP and RESTORE report progress as
    messages, and closing the cursor before they are consumed can cancel the batch."""
    if params:
        cursor.execute(statement, params)
    else:
        cursor.execute(statement)
    while cursor.nextset():
        pass


def _fetch(cursor: Any, statement: str, params: Any = None) -> list[Any]:
    if params:
        cursor.execute(statement, params)
    else:
        cursor.execute(statement)
    return list(cursor.fetchall())


def _version(cursor: Any) -> str:
    rows = _fetch(cursor, "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))")
    return str(rows[0][0])


def _catalogue(cursor: Any, count_rows: bool) -> Catalogue:
    names = [(str(schema), str(name)) for schema, name in _fetch(cursor, _LIST_TABLES)]
    return Catalogue(
        server_version=_version(cursor),
        tool_version="SQL Server BACKUP TO URL",
        tables=names,
        rows={(s, n): _count(cursor, s, n) for s, n in names} if count_rows else None,
    )


def _count(cursor: Any, schema: str, name: str) -> int:
    table = f"{quote_name(schema)}.{quote_name(name)}"
    rows = _fetch(cursor, f"SELECT COUNT_BIG(*) FROM {table}")  # noqa: S608 - quoted
    return int(rows[0][0])


def _database_exists(cursor: Any, name: str) -> bool:
    return bool(_fetch(cursor, "SELECT 1 FROM sys.databases WHERE name = ?", (name,)))


def _login_timeout(spec: ConnectionSpec) -> int:
    return max(1, round(spec.connect_timeout_seconds))


def _mssql_connect(connection: str, timeout: int) -> Any:  # pragma: no cover - needs a server
    import mssql_python

    return mssql_python.connect(connection, autocommit=True, timeout=timeout)
