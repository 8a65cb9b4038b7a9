r"""MySQL and MariaDB: PyMySQL for tests, discovery and the manifest; mariadb-dump or
mysqldump for the data, and the mariadb/mysql client to restore.

Tools read user, password, host, port and TLS options from a 0600 option file passed as
`--defaults-file` (it must be the first argument): the only option file they read, so
neither /etc/mysql/*.cnf nor a ~/.my.cnf can add or override an option (another host,
TLS off, a plugin folder). The database name comes after `--`, so it can never be read
as an option (and it is validated anyway).

Dump options, and why:
- `--single-transaction --quick`: a consistent InnoDB snapshot without locking, streamed
  row by row (without --quick the client holds whole tables in memory). With
  --single-transaction the tools already skip LOCK TABLES.
- `--routines --triggers --events --hex-blob`: the whole database, binary-safe as text.
- `--no-tablespaces`: tablespace statements need the PROCESS privilege (MySQL 8.0.21+)
  and do not belong to one database.
- `--add-locks` (the default, given in case an option file turns it off): the manifest's
  rows are counted in each table's `LOCK TABLES … UNLOCK TABLES` section of the dump
  (shared/pipeline/row_counts.py).
- No `--databases`: the dump then has no CREATE DATABASE/USE, so it restores into any
  database name (restores go to a new database by default).
- MySQL's own mysqldump only: `--set-gtid-purged=OFF` (a restore must not try to set
  the target's GTID_PURGED) and `--column-statistics=0` (MySQL 8 clients otherwise query
  COLUMN_STATISTICS, which MariaDB and MySQL 5.7 servers lack).
A MariaDB dump starts with a "sandbox mode" line that only MariaDB clients understand:
restore MariaDB dumps with the mariadb client (found first here).

The client reads the dump before its checksum is known, so whoever can write to the
container writes its input. Client commands in it must not run on this host:
- `--binary-mode`: in non-interactive mode the client then parses no client command but
  DELIMITER and `\C` (and the dump's own sandbox line): `\!`/`system` (a shell command),
  `\e` (an editor that reads the rest of the input as keystrokes), `\r db host` (our
  credentials sent to another host), `\.`/`source`, `\T` all fail, and so does the
  restore;
- `--sandbox` (MariaDB 10.5.25+/10.6.18+/10.11.8+): the same commands refused once more,
  from the first line on; a client without it is refused;
- `--local-infile=0`: `LOAD DATA LOCAL INFILE` would copy this host's files into the
  target (the sandbox does not cover it);
- EDITOR and VISUAL are `false`, should `\e` ever be parsed.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from shared.engines.base import (
    Catalogue,
    ConnectionErrorKind,
    ConnectionResult,
    ConnectionSpec,
    DiscoveredDatabase,
    EngineError,
    TableName,
    ToolCommand,
)
from shared.engines.common import (
    discovered,
    engine_error,
    plain_host,
    private_file,
    reject_line_breaks,
    require_database_name,
    timed_connection_test,
)
from shared.engines.deadline import ConnectDeadline, DeadlinePassed
from shared.engines.tools import ResolvedTool, find_any, knows_sandbox
from shared.models import DumpManifest, Engine, TlsMode

COMPLETION_MARKER = b"-- Dump completed"
SYSTEM_DATABASES = frozenset({"information_schema", "mysql", "performance_schema", "sys"})
DUMP_TOOLS = ("mariadb-dump", "mysqldump")
CLIENT_TOOLS = ("mariadb", "mysql")
_COMMON_DUMP_OPTIONS = [
    "--single-transaction",
    "--quick",
    "--routines",
    "--triggers",
    "--events",
    "--hex-blob",
    "--default-character-set=utf8mb4",
    "--no-tablespaces",
    "--add-locks",
]
_MYSQL_CLIENT_DUMP_OPTIONS = ["--set-gtid-purged=OFF", "--column-statistics=0"]
_NO_SANDBOX = (
    "{} has no --sandbox (MariaDB client 10.5.25, 10.6.18, 10.11.8 or newer): refusing "
    "to restore with a client that would run the dump's client commands"
)
# `\\e` runs "$EDITOR <file>" through the shell: `false` edits nothing.
_NO_EDITOR = {"EDITOR": "false", "VISUAL": "false"}
_TABLE_TYPES = ("BASE TABLE", "SYSTEM VERSIONED")
# Tables whose rows the dump tools never write (they live elsewhere: MERGE's in the
# tables it merges, FEDERATED's on another server).
_NO_DATA_ENGINES = ("MRG_MyISAM", "MRG_ISAM", "FEDERATED")
_LIST_TABLES = (
    "SELECT TABLE_NAME FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN %s AND COALESCE(ENGINE, '') NOT IN %s"
    " ORDER BY TABLE_NAME"
)


class MySqlEngine:
    """One class for both flavours; `engine` says which the server is."""

    completion_marker = COMPLETION_MARKER

    def __init__(self, engine: Engine = Engine.MARIADB) -> None:
        self.engine = engine

    def _names(self, tools: tuple[str, str]) -> tuple[str, ...]:
        """The server's own flavour of client first: (mariadb, mysql) names for MariaDB."""
        return tools if self.engine is Engine.MARIADB else tools[::-1]

    def test_connection(self, spec: ConnectionSpec) -> ConnectionResult:
        return timed_connection_test(self.server_version, spec)

    def server_version(self, spec: ConnectionSpec) -> str:
        with _connect(spec) as conn:
            return str(_scalar(conn, "SELECT VERSION()"))

    def list_databases(self, spec: ConnectionSpec) -> list[DiscoveredDatabase]:
        with _connect(spec, database="") as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT s.SCHEMA_NAME, SUM(t.DATA_LENGTH + t.INDEX_LENGTH)"
                " FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t"
                " ON t.TABLE_SCHEMA = s.SCHEMA_NAME GROUP BY s.SCHEMA_NAME ORDER BY 1"
            )
            rows = cursor.fetchall()
        return discovered(rows, SYSTEM_DATABASES)

    def catalogue(self, spec: ConnectionSpec) -> Catalogue:
        database = require_database_name(spec.database)
        with _connect(spec) as conn:
            return self._catalogue(conn, database, count_rows=False)

    def restored_manifest(self, spec: ConnectionSpec, tool_output: bytes | None) -> DumpManifest:
        """The restore tool reports no rows: every table is counted."""
        return self.manifest(spec)

    def manifest(self, spec: ConnectionSpec) -> DumpManifest:
        database = require_database_name(spec.database)
        with _connect(spec, long_queries=True) as conn, conn.cursor() as cursor:
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            catalogue = self._catalogue(conn, database, count_rows=True)
            conn.rollback()
        return catalogue.manifest(self.engine, database, catalogue.rows or {})

    def _catalogue(
        self, conn: pymysql.connections.Connection, database: str, count_rows: bool
    ) -> Catalogue:
        version = str(_scalar(conn, "SELECT VERSION()"))
        with conn.cursor() as cursor:
            cursor.execute(_LIST_TABLES, (database, _TABLE_TYPES, _NO_DATA_ENGINES))
            tables: list[TableName] = [(None, row[0]) for row in cursor.fetchall()]
        return Catalogue(
            server_version=version,
            tool_version=find_any(self._names(DUMP_TOOLS)).version,
            tables=tables,
            encoding="utf-8",  # the tools and PyMySQL both talk utf8mb4
            rows={t: _count_rows(conn, database, t[1]) for t in tables} if count_rows else None,
        )

    @contextmanager
    def dump_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        database = require_database_name(spec.database)
        tool = find_any(self._names(DUMP_TOOLS))
        with _defaults_file(spec, tool, workdir) as defaults:
            argv = [str(tool.path), f"--defaults-file={defaults}"]
            argv += _COMMON_DUMP_OPTIONS
            argv += [] if is_mariadb_client(tool) else _MYSQL_CLIENT_DUMP_OPTIONS
            argv += ["--", database]
            yield ToolCommand(argv, _tool_env(tool, workdir), COMPLETION_MARKER, tool.version)

    @contextmanager
    def restore_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        """The client reading the dump on stdin; it stops at the first error."""
        database = require_database_name(spec.database)
        tool = find_any(self._names(CLIENT_TOOLS))
        if not knows_sandbox(tool):
            raise EngineError(ConnectionErrorKind.TOOL_MISSING, _NO_SANDBOX.format(tool.version))
        with _defaults_file(spec, tool, workdir) as defaults:
            argv = [
                str(tool.path),
                f"--defaults-file={defaults}",
                "--sandbox",
                "--binary-mode",
                "--local-infile=0",
                "--default-character-set=utf8mb4",
                "--max-allowed-packet=1G",
                "--batch",
                f"--connect-timeout={max(1, round(spec.connect_timeout_seconds))}",
                "--",
                database,
            ]
            env = {**_tool_env(tool, workdir), **_NO_EDITOR}
            yield ToolCommand(argv, env, None, tool.version)

    def create_database(self, spec: ConnectionSpec) -> None:
        database = require_database_name(spec.database)
        statement = f"CREATE DATABASE {quote_identifier(database)} CHARACTER SET utf8mb4"
        with _connect(spec, database="") as conn, conn.cursor() as cursor:
            cursor.execute(statement)

    def drop_database(self, spec: ConnectionSpec) -> None:
        statement = (
            f"DROP DATABASE IF EXISTS {quote_identifier(require_database_name(spec.database))}"
        )
        with _connect(spec, database="") as conn, conn.cursor() as cursor:
            cursor.execute(statement)

    def is_empty(self, spec: ConnectionSpec) -> bool:
        """True when the database holds no table, view, routine or event."""
        database = require_database_name(spec.database)
        queries = [
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
            "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
        ]
        with _connect(spec) as conn:
            return all(_scalar(conn, query, (database,)) == 0 for query in queries)


def quote_identifier(name: str) -> str:
    """A MySQL identifier in backticks, embedded backticks doubled."""
    return "`" + name.replace("`", "``") + "`"


def is_mariadb_client(tool: ResolvedTool) -> bool:
    return "mariadb" in tool.version.lower()


def _scalar(conn: pymysql.connections.Connection, query: str, args: Any = None) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(query, args)
        return cursor.fetchone()[0]


def _count_rows(conn: pymysql.connections.Connection, database: str, name: str) -> int:
    table = f"{quote_identifier(database)}.{quote_identifier(name)}"
    query = f"SELECT COUNT(*) FROM {table}"  # noqa: S608 - identifiers quoted above
    return int(_scalar(conn, query))


# --- connections ------------------------------------------------------------------------


class _GuardedConnection(pymysql.connections.Connection):
    """PyMySQL with two guards of its own, whatever its version does:
    - TLS required: no credential is sent to a server that does not offer TLS (PyMySQL
      before 1.2 silently went on without it);
    - no TLS: a request for the password in clear text (mysql_clear_password, dialog),
      which a real server makes only for plugins meant for TLS, is refused."""

    def __init__(self, *args: Any, tls_required: bool, **kwargs: Any) -> None:
        self._tls_required = tls_required  # before connecting, which __init__ does
        super().__init__(*args, **kwargs)

    def _request_authentication(self) -> None:
        if self._tls_required and not self.server_capabilities & CLIENT.SSL:
            raise pymysql.err.OperationalError(2026, TLS_NOT_OFFERED)
        super()._request_authentication()

    def _process_auth(self, plugin_name: bytes, auth_packet: Any, handler: Any = None) -> Any:
        encrypted = isinstance(self._sock, ssl.SSLSocket)
        if plugin_name in _CLEARTEXT_PLUGINS and not encrypted:
            raise pymysql.err.OperationalError(2059, CLEARTEXT_REFUSED)
        return super()._process_auth(plugin_name, auth_packet, handler)


TLS_NOT_OFFERED = "TLS is required, but the server does not offer it"
CLEARTEXT_REFUSED = "the server asked for the password in clear text without TLS: refused"
_CLEARTEXT_PLUGINS = (b"mysql_clear_password", b"dialog")


def _ssl_arguments(mode: TlsMode) -> dict[str, Any]:
    """PyMySQL's own default is 'preferred': TLS when the server offers it."""
    if mode is TlsMode.DISABLE:
        return {"ssl_disabled": True}
    if mode is TlsMode.REQUIRE:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # encrypted, not authenticated (libpq's "require")
        return {"ssl": context}
    if mode is TlsMode.VERIFY_FULL:
        return {"ssl": ssl.create_default_context()}
    return {}


@contextmanager
def _connect(
    spec: ConnectionSpec, database: str | None = None, long_queries: bool = False
) -> Iterator[pymysql.connections.Connection]:
    """A connection, closed afterwards. Driver errors, while connecting or querying,
    become EngineErrors of the right kind (never holding the password).

    PyMySQL's connect_timeout covers only the TCP connect; the server's greeting is
    read under read_timeout, so a server that accepts and then stays silent would hang
    us forever without one. Every read is bounded by the connect timeout, except with
    `long_queries` (row counts of big tables), where it is lifted once connected.

    Those are per read: opening the connection as a whole (name lookup, TCP, greeting, TLS
    handshake, sign-in) is bounded by the connect timeout too (shared/engines/deadline.py),
    so a trickling server or a hanging name server is a timeout, not a stuck worker."""
    name = spec.database if database is None else database
    host = plain_host(spec)
    try:
        conn = _GuardedConnection(
            tls_required=spec.tls_mode in (TlsMode.REQUIRE, TlsMode.VERIFY_FULL),
            host=host,
            port=spec.port,
            user=spec.username,
            # As bytes: PyMySQL would encode a str as Latin-1, and the client tools send
            # the option file's UTF-8, so a password like "€uro" must be UTF-8 here too.
            password=spec.password_to_send().encode(),
            database=name or None,
            connect_timeout=spec.connect_timeout_seconds,
            read_timeout=spec.connect_timeout_seconds,
            write_timeout=spec.connect_timeout_seconds,
            charset="utf8mb4",
            defer_connect=True,
            **_ssl_arguments(spec.tls_mode),
        )
        _open_within_deadline(conn, host, spec)
        with conn:
            if long_queries:
                # No public setter: PyMySQL re-applies this before each read.
                conn._read_timeout = None
            yield conn
    except pymysql.err.MySQLError as error:
        raise engine_error(classify(error), error, spec) from error


def _open_within_deadline(
    conn: pymysql.connections.Connection, host: str, spec: ConnectionSpec
) -> None:
    deadline = ConnectDeadline(spec.connect_timeout_seconds)
    try:
        try:
            sock = deadline.open_socket(host, spec.port)
        except OSError as error:
            # As PyMySQL says it, so that classify() reads it the same way.
            raise pymysql.err.OperationalError(
                2003, f"Can't connect to MySQL server on {host!r} ({error})"
            ) from None
        conn.host_info = f"socket {host}:{spec.port}"
        with deadline.guarding(sock):
            conn.connect(sock)
    except DeadlinePassed:
        seconds = f"{deadline.seconds:g}"
        raise engine_error(
            ConnectionErrorKind.TIMEOUT, f"no connection within {seconds} s (timed out)", spec
        ) from None


def _code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


_CODE_KINDS = {
    1044: ConnectionErrorKind.AUTH_FAILED,  # access denied to the database
    1045: ConnectionErrorKind.AUTH_FAILED,  # access denied (password)
    1251: ConnectionErrorKind.AUTH_FAILED,  # authentication protocol not supported
    1698: ConnectionErrorKind.AUTH_FAILED,  # access denied (plugin)
    1049: ConnectionErrorKind.DATABASE_MISSING,
    1007: ConnectionErrorKind.INVALID_REQUEST,  # database exists (create_database)
    2026: ConnectionErrorKind.TLS,  # TLS handshake failed or not offered
    3159: ConnectionErrorKind.TLS,  # insecure transport prohibited (MySQL)
    9002: ConnectionErrorKind.TLS,  # "SSL connection is required" (Azure)
    2003: ConnectionErrorKind.UNREACHABLE,
    2005: ConnectionErrorKind.UNREACHABLE,
    2006: ConnectionErrorKind.UNREACHABLE,
    2013: ConnectionErrorKind.UNREACHABLE,
}


_MAYBE_TLS = (ConnectionErrorKind.UNKNOWN, ConnectionErrorKind.UNREACHABLE)


def classify(error: BaseException) -> ConnectionErrorKind:
    kind = _CODE_KINDS.get(_code(error) or 0, ConnectionErrorKind.UNKNOWN)
    message = str(error).lower()
    if kind is ConnectionErrorKind.UNREACHABLE and "timed out" in message:
        return ConnectionErrorKind.TIMEOUT
    # A failed TLS handshake comes as "can't connect" (2003) with the SSL error inside.
    tls_words = ("ssl", "tls", "certificate")
    if kind in _MAYBE_TLS and any(word in message for word in tls_words):
        return ConnectionErrorKind.TLS
    return kind


# --- option file ------------------------------------------------------------------------


def option_value(value: str) -> str:
    """A value for a MySQL/MariaDB option file: double-quoted (keeps spaces and '#'),
    with backslash and double quote escaped the way the clients unescape them."""
    reject_line_breaks(value, "option value")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tls_options(mode: TlsMode, tool: ResolvedTool) -> list[str]:
    """MySQL clients take ssl-mode. MariaDB clients (10.x) have no 'require without
    verification': their `ssl` alone goes on without TLS when the server offers none
    (and answers its request for a cleartext password), and only ssl-verify-server-cert
    refuses a server without TLS. So REQUIRE is enforced by verifying the server's
    certificate (against the system's CAs, or SSL_CERT_FILE) and host name, as for
    VERIFY_FULL: a server with a self-signed certificate fails instead of being trusted."""
    if not is_mariadb_client(tool):
        names = {
            TlsMode.DISABLE: "DISABLED",
            TlsMode.PREFER: "PREFERRED",
            TlsMode.REQUIRE: "REQUIRED",
            TlsMode.VERIFY_FULL: "VERIFY_IDENTITY",
        }
        return [f"ssl-mode={names[mode]}"]
    if mode is TlsMode.DISABLE:
        return ["skip-ssl"]
    if mode in (TlsMode.REQUIRE, TlsMode.VERIFY_FULL):
        return ["ssl", "ssl-verify-server-cert"]
    return ["ssl"]


def defaults_file_text(spec: ConnectionSpec, tool: ResolvedTool) -> str:
    lines = [
        "[client]",
        f"user={option_value(spec.username)}",
        f"password={option_value(spec.password_to_send())}",
        f"host={option_value(plain_host(spec))}",
        f"port={int(spec.port)}",
        "protocol=tcp",
        *_tls_options(spec.tls_mode, tool),
    ]
    if spec.entra is not None and not is_mariadb_client(tool):
        # Azure checks an Entra ID token with mysql_clear_password (over verified TLS):
        # MySQL's clients send it only when allowed; MariaDB's always may (their dump
        # tool does not even know the option).
        lines.append("enable-cleartext-plugin")
    if tool.plugin_dir is not None:
        # The bundled client's auth plugins (e.g. caching_sha2_password for MySQL 8):
        # its compiled-in plugin folder does not exist on the host.
        lines.append(f"plugin-dir={option_value(str(tool.plugin_dir))}")
    return "\n".join(lines) + "\n"


def _tool_env(tool: ResolvedTool, workdir: Path) -> dict[str, str]:
    """The tool's own variables, and a home of our own (the tools read no ~/.my.cnf with
    --defaults-file; nor does anything else they may start find a dotfile there)."""
    return {**tool.env, "HOME": str(workdir)}


@contextmanager
def _defaults_file(spec: ConnectionSpec, tool: ResolvedTool, workdir: Path) -> Iterator[Path]:
    with private_file(workdir, "my.cnf", defaults_file_text(spec, tool)) as path:
        yield path
