"""PostgreSQL: psycopg for tests, discovery and the manifest; pg_dump/psql for the data.

Dumps are plain SQL (compression is the pipeline's job). The tools get the connection
through libpq's environment variables and the password through a 0600 PGPASSFILE, so
neither the password nor the database name ever appears on argv.
"""

from __future__ import annotations

import ipaddress
import math
import re
import secrets
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from shared.engines.base import (
    Catalogue,
    CatalogueReading,
    ConnectionErrorKind,
    ConnectionResult,
    ConnectionSpec,
    DiscoveredDatabase,
    EngineError,
    ToolCommand,
)
from shared.engines.common import (
    engine_error,
    plain_host,
    private_file,
    reject_line_breaks,
    require_database_name,
    timed_connection_test,
)
from shared.engines.deadline import ConnectDeadline, DeadlinePassed
from shared.engines.tools import ResolvedTool, find_postgres_tool, knows_restrict
from shared.models import DumpManifest, Engine, TlsMode

COMPLETION_MARKER = b"-- PostgreSQL database dump complete"
SYSTEM_DATABASES = frozenset(
    {"template0", "template1", "postgres", "azure_maintenance", "azure_sys"}
)
_APPLICATION_NAME = "dilux-backup"
TRANSACTION_TIMEOUT_LINES = (b"SET transaction_timeout = 0;",)
_NO_RESTRICT = (
    "{} cannot lock out the dump's meta-commands (\\restrict needs psql 13.22, 14.19, "
    "15.14, 16.10, 17.6 or newer): refusing to restore with it"
)
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")

_LIST_DATABASES = """
    SELECT datname,
           CASE WHEN has_database_privilege(datname, 'CONNECT')
                THEN pg_database_size(datname) END
    FROM pg_database ORDER BY datname
"""
# Ordinary and partitioned tables outside the system schemas, and whether an extension owns
# them: pg_dump leaves an extension's tables out, or keeps only the rows its filter selects
# (PostGIS' spatial_ref_sys), and a restore gets the others from CREATE EXTENSION.
_LIST_TABLES = """
    SELECT n.nspname, c.relname,
           EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                     AND d.deptype = 'e')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    ORDER BY n.nspname, c.relname
"""
_TABLES_BY_OID = """
    SELECT c.oid::bigint, n.nspname, c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = ANY(%s::oid[])
"""
# Read by psql after the dump, inside its single transaction, so before the commit: the
# rows this transaction inserted into (less deleted from) each table, by table oid, after
# the random marker line and whether the server keeps such counts at all (track_counts).
# Qualified: the dump leaves search_path empty.
_INSERTED_ROWS = b"""
SELECT 'MARKER', pg_catalog.current_setting('track_counts');
SELECT relid::bigint, n_tup_ins - n_tup_del FROM pg_catalog.pg_stat_xact_user_tables;
"""
_END_SESSIONS = """
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = %s AND pid <> pg_backend_pid()
"""
# Relations (tables, views, sequences, indexes...) and functions outside system schemas.
_COUNT_OWN_OBJECTS = """
    SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%')
         + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
"""


class PostgresEngine:
    engine = Engine.POSTGRESQL
    completion_marker = COMPLETION_MARKER

    def test_connection(self, spec: ConnectionSpec) -> ConnectionResult:
        return timed_connection_test(self.server_version, spec)

    def server_version(self, spec: ConnectionSpec) -> str:
        with _connect(spec) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])

    def server_major_and_address(self, spec: ConnectionSpec) -> tuple[int, str | None]:
        """The server's major version, and the IP address a connection reached it at
        within the spec's connect timeout (None over a Unix socket)."""
        with _connect(spec) as conn:
            return _major(conn), _reached_address(conn)

    def list_databases(self, spec: ConnectionSpec) -> list[DiscoveredDatabase]:
        with _connect(spec) as conn:
            rows = conn.execute(_LIST_DATABASES).fetchall()
        return [
            DiscoveredDatabase(name=name, is_system=name in SYSTEM_DATABASES, size_bytes=size)
            for name, size in rows
        ]

    def catalogue(self, spec: ConnectionSpec) -> Catalogue:
        require_database_name(spec.database)
        with _snapshot_connection(spec) as conn:
            return _catalogue(conn, spec, count_rows=False)

    def manifest(self, spec: ConnectionSpec) -> DumpManifest:
        require_database_name(spec.database)
        with _snapshot_connection(spec) as conn:
            catalogue = _catalogue(conn, spec, count_rows=True)
        return catalogue.manifest(self.engine, spec.database, catalogue.rows or {})

    @contextmanager
    def dump_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        require_database_name(spec.database)
        major, address = self.server_major_and_address(spec)
        tool = _client_tool("pg_dump", major, spec)
        with _tool_env(spec, tool, workdir, address) as env:
            yield ToolCommand(_dump_argv(tool, spec), env, COMPLETION_MARKER, tool.version)

    @contextmanager
    def dump_with_catalogue(
        self, spec: ConnectionSpec, workdir: Path, *, count_rows: bool = False
    ) -> Iterator[tuple[CatalogueReading, ToolCommand]]:
        """Exports the snapshot of an open transaction, which pg_dump adopts (--snapshot);
        the catalogue is read in that same transaction, so it lists exactly the tables the
        dump saw, and `count_rows` counts them exactly as dumped. The reading may run while
        pg_dump runs. The transaction stays open, holding the snapshot, until the context
        closes. pg_dump connects to the address this transaction's connection reached
        (a name may resolve to another server by then, which has no such snapshot)."""
        require_database_name(spec.database)
        with _snapshot_connection(spec) as conn:
            snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])
            if not _SNAPSHOT_ID.fullmatch(snapshot):
                raise EngineError(ConnectionErrorKind.UNKNOWN, "unexpected snapshot id")
            tool = _client_tool("pg_dump", _major(conn), spec)
            argv = [*_dump_argv(tool, spec), f"--snapshot={snapshot}"]

            def read_catalogue() -> Catalogue:
                try:
                    # In a savepoint: a failing count (a table it may not read) must not
                    # abort the transaction whose snapshot pg_dump is importing.
                    with conn.transaction():
                        return _catalogue(conn, spec, count_rows)
                except psycopg.Error as error:  # raised outside _connect's translation
                    raise engine_error(classify(error), error, spec) from error

            with _tool_env(spec, tool, workdir, _reached_address(conn)) as env:
                reading = CatalogueReading(read_catalogue, cancel=conn.cancel_safe)
                yield reading, ToolCommand(argv, env, COMPLETION_MARKER, tool.version)

    @contextmanager
    def restore_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        """psql reading the plain dump on stdin, all or nothing: it stops at the first
        error and rolls the whole restore back. Query output goes to /dev/null.
        It reads `\\restrict <random key>` first: no meta-command in the dump runs (see
        shared/engines/header_filter.py); a psql without \\restrict is refused.
        Targets before 17 reject pg_dump 17+'s `SET transaction_timeout`: that header
        line is then to be dropped (ToolCommand.drop_header_lines)."""
        require_database_name(spec.database)
        target_major, address = self.server_major_and_address(spec)
        drop = TRANSACTION_TIMEOUT_LINES if target_major < 17 else ()
        tool = _client_tool("psql", None, spec)
        if not knows_restrict(tool):
            # The blob is read before its checksum is known: unrestricted, a `\!` in it
            # would run a shell command here. Better no restore than that.
            raise EngineError(ConnectionErrorKind.TOOL_MISSING, _NO_RESTRICT.format(tool.version))
        argv = [
            str(tool.path),
            *_auth_arguments(spec),
            "--no-password",
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--single-transaction",
            # Query results as bare lines: the dump's own are dropped, ours are parsed.
            "--no-align",
            "--tuples-only",
            "--field-separator=\t",
            "--file=-",
        ]
        # A fresh key per restore, never written anywhere the blob could learn it from.
        restrict = f"\\restrict {secrets.token_hex(32)}\n".encode()
        marker = secrets.token_hex(32).encode()
        with _tool_env(spec, tool, workdir, address) as env:
            yield ToolCommand(
                argv, env, None, tool.version, drop_header_lines=drop,
                input_prefix=restrict, drop_psql_restrict=True,
                input_suffix=_INSERTED_ROWS.replace(b"MARKER", marker), output_marker=marker,
            )  # fmt: skip

    def restored_manifest(self, spec: ConnectionSpec, tool_output: bytes | None) -> DumpManifest:
        """The rows psql's transaction inserted into each table, as the server counted
        them before committing (pg_stat_xact_user_tables): nothing is read again. Where
        psql did not report them (track_counts off, say), every table is counted."""
        inserted = parse_inserted_rows(tool_output)
        if inserted is None:
            return self.manifest(spec)
        require_database_name(spec.database)
        with _snapshot_connection(spec) as conn:
            catalogue = _catalogue(conn, spec, count_rows=False)
            named = conn.execute(_TABLES_BY_OID, (list(inserted),)).fetchall()
        listed = set(catalogue.tables)
        rows = {(str(s), str(n)): inserted[oid] for oid, s, n in named}
        counted = {name: count for name, count in rows.items() if name in listed}
        return catalogue.manifest(self.engine, spec.database, counted)

    def create_database(self, spec: ConnectionSpec) -> None:
        name = require_database_name(spec.database)
        with _connect(spec, database="postgres") as conn:
            conn.autocommit = True
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, spec: ConnectionSpec) -> None:
        name = require_database_name(spec.database)
        with _connect(spec, database="postgres") as conn:
            conn.autocommit = True
            if _major(conn) >= 13:
                statement = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
            else:  # no FORCE before 13: end the sessions first
                conn.execute(_END_SESSIONS, (name,))
                statement = "DROP DATABASE IF EXISTS {}"
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    def is_empty(self, spec: ConnectionSpec) -> bool:
        """True when the database holds no table, view, sequence or function of its own."""
        require_database_name(spec.database)
        with _connect(spec) as conn:
            return conn.execute(_COUNT_OWN_OBJECTS).fetchone()[0] == 0


def parse_inserted_rows(output: bytes | None) -> dict[int, int] | None:
    """Rows by table oid from what psql printed after the marker (see _INSERTED_ROWS):
    None when it printed nothing after it, the server keeps no counts, or a line is not
    what the query prints (then the tables are counted instead)."""
    if output is None:
        return None
    lines = output.split(b"\n")
    if lines[0] != b"\ton":
        return None
    inserted: dict[int, int] = {}
    for line in lines[1:]:
        if not line:
            continue
        oid, _, rows = line.partition(b"\t")
        if not oid.isdigit() or not rows.lstrip(b"-").isdigit():
            return None
        inserted[int(oid)] = int(rows)
    return inserted


def _dump_argv(tool: ResolvedTool, spec: ConnectionSpec) -> list[str]:
    return [str(tool.path), *_auth_arguments(spec), "--no-password", "--format=plain"]


def _major(conn: psycopg.Connection) -> int:
    return conn.info.server_version // 10000


def _reached_address(conn: psycopg.Connection) -> str | None:
    """The IP address `conn` is connected to; None over a Unix socket."""
    return conn.info.hostaddr or None


def _catalogue(conn: psycopg.Connection, spec: ConnectionSpec, count_rows: bool) -> Catalogue:
    version = str(conn.execute("SHOW server_version").fetchone()[0])
    listed = conn.execute(_LIST_TABLES).fetchall()
    names = [(str(s), str(n)) for s, n, extension in listed if not extension]
    return Catalogue(
        server_version=version,
        tool_version=_client_tool("pg_dump", _major(conn), spec).version,
        tables=names,
        skipped=frozenset((str(s), str(n)) for s, n, extension in listed if extension),
        # pg_dump writes names in the client encoding this connection has too (both
        # default to the database's): names from the dump decode to the same strings.
        encoding=conn.info.encoding,
        rows={(s, n): _count_rows(conn, s, n) for s, n in names} if count_rows else None,
    )


def _count_rows(conn: psycopg.Connection, schema: str, name: str) -> int:
    # ONLY: a table's own rows, which is what pg_dump's COPY holds (a parent's count would
    # include its children's, and a partitioned table holds none of its own).
    query = sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.Identifier(schema, name))
    return int(conn.execute(query).fetchone()[0])


# --- connections ------------------------------------------------------------------------


@contextmanager
def _snapshot_connection(spec: ConnectionSpec) -> Iterator[psycopg.Connection]:
    """A read-only REPEATABLE READ connection: every query sees one snapshot."""
    with _connect(spec) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        yield conn


def _sslmode(mode: TlsMode) -> str:
    return mode.value  # libpq's names are ours: disable, prefer, require, verify-full


# Where TLS is not enforced, a password must not go out in clear text to whoever asks
# for it (an impostor on the path, or a server that allows `password` auth): libpq 16+
# refuses, with require_auth, to answer such a request. md5 and SCRAM answers prove
# the password without sending it; trust (no request) still works.
REFUSE_CLEARTEXT = "!password"
_REQUIRE_AUTH_LIBPQ = 160000
_OLD_LIBPQ = (
    "this libpq is older than 16 and cannot refuse to send a password in clear text; "
    "use tls_mode require (or verify-full)"
)


def guards_cleartext(spec: ConnectionSpec) -> bool:
    """True when a password is to be sent and TLS may be off (disable, prefer)."""
    unencrypted = spec.tls_mode in (TlsMode.DISABLE, TlsMode.PREFER)
    return unencrypted and bool(spec.password.get_secret_value())


def _auth_arguments(spec: ConnectionSpec) -> list[str]:
    """A connection option on argv (no secret in it), where the tools fail closed: a
    libpq that does not know require_auth stops with "invalid connection option", where
    the PGREQUIREAUTH variable would be silently ignored."""
    return [f"--dbname=require_auth={REFUSE_CLEARTEXT}"] if guards_cleartext(spec) else []


def _client_tool(name: str, server_major: int | None, spec: ConnectionSpec) -> ResolvedTool:
    """The tool for this server; one whose libpq can refuse a cleartext password request
    when that is needed (Debian's 15 cannot: then the bundled 18 is taken)."""
    return find_postgres_tool(name, server_major, refuses_cleartext=guards_cleartext(spec))


@contextmanager
def _connect(spec: ConnectionSpec, database: str | None = None) -> Iterator[psycopg.Connection]:
    """A connection, closed afterwards. Driver errors, while connecting or querying,
    become EngineErrors of the right kind (never holding the password)."""
    params = {
        "host": plain_host(spec),
        "port": spec.port,
        "user": spec.username,
        "password": spec.password_to_send() or None,
        "dbname": database or spec.database or "postgres",
        "sslmode": _sslmode(spec.tls_mode),
        "application_name": _APPLICATION_NAME,
    }
    if spec.tls_mode is TlsMode.VERIFY_FULL:
        params["sslrootcert"] = "system"
    if guards_cleartext(spec):
        if psycopg.pq.version() < _REQUIRE_AUTH_LIBPQ:
            raise EngineError(ConnectionErrorKind.TLS, _OLD_LIBPQ)
        params["require_auth"] = REFUSE_CLEARTEXT
    deadline = ConnectDeadline(spec.connect_timeout_seconds)
    try:
        with _open(params, spec.port, deadline) as conn:
            yield conn
    except DeadlinePassed:
        message = f"no connection within {deadline.seconds:g} s (timed out)"
        raise EngineError(ConnectionErrorKind.TIMEOUT, message) from None
    except psycopg.errors.DuplicateDatabase as error:
        raise EngineError(ConnectionErrorKind.INVALID_REQUEST, "database already exists") from error
    except psycopg.Error as error:
        raise engine_error(classify(error), error, spec) from error


# Failures after which libpq, given several hosts, tries the next one: this server could
# not be reached. Any answer from a server (a refused sign-in, say) ends the attempts.
_TRY_NEXT_ADDRESS = (ConnectionErrorKind.UNREACHABLE, ConnectionErrorKind.TIMEOUT)


def _open(params: dict[str, object], port: int, deadline: ConnectDeadline) -> psycopg.Connection:
    """Connects within one deadline: the name lookup, then the name's addresses in turn,
    each given what is left of it. libpq's connect_timeout alone covers one address at a
    time (in whole seconds, at least 2), and psycopg looks names up with nothing to bound
    the wait. TLS still verifies the certificate against the name (libpq's `host`), which
    is also what a ~/.pgpass line is matched on; only the address comes from the lookup."""
    host = str(params["host"])
    addresses: list[str | None] = [None]  # a socket folder or an IP literal: no lookup
    if not host.startswith("/") and not _is_ip_literal(host):
        try:
            found = deadline.resolve(host, port)
        except OSError as error:
            message = f"failed to resolve host {host!r}: {error.strerror or error}"
            raise psycopg.OperationalError(message) from None
        addresses = list(dict.fromkeys(str(entry[4][0]) for entry in found))
    last: psycopg.OperationalError | None = None
    for address in addresses:
        attempt = {**params, "connect_timeout": max(2, math.ceil(deadline.remaining()))}
        if address is not None:
            attempt["hostaddr"] = address
        try:
            return psycopg.connect(**{k: v for k, v in attempt.items() if v is not None})
        except psycopg.OperationalError as error:
            if classify(error) not in _TRY_NEXT_ADDRESS:
                raise
            last = error
    assert last is not None
    raise last


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def classify(error: BaseException) -> ConnectionErrorKind:
    """The kind of a connection failure, from its SQLSTATE or libpq's message."""
    state = getattr(error, "sqlstate", None)
    if state in ("28P01", "28000"):
        return ConnectionErrorKind.AUTH_FAILED
    if state == "3D000":
        return ConnectionErrorKind.DATABASE_MISSING
    return classify_message(str(error))


_MESSAGE_KINDS: list[tuple[str, ConnectionErrorKind]] = [
    ("password authentication failed", ConnectionErrorKind.AUTH_FAILED),
    ("no password supplied", ConnectionErrorKind.AUTH_FAILED),
    ("authentication failed", ConnectionErrorKind.AUTH_FAILED),
    ("ssl", ConnectionErrorKind.TLS),
    ("certificate", ConnectionErrorKind.TLS),
    ('role "', ConnectionErrorKind.AUTH_FAILED),
    ("does not exist", ConnectionErrorKind.DATABASE_MISSING),
    ("timeout expired", ConnectionErrorKind.TIMEOUT),
    ("timed out", ConnectionErrorKind.TIMEOUT),
    ("connection refused", ConnectionErrorKind.UNREACHABLE),
    ("could not translate host name", ConnectionErrorKind.UNREACHABLE),
    ("failed to resolve host", ConnectionErrorKind.UNREACHABLE),
    ("no route to host", ConnectionErrorKind.UNREACHABLE),
    ("network is unreachable", ConnectionErrorKind.UNREACHABLE),
    ("no such file or directory", ConnectionErrorKind.UNREACHABLE),
    ("no pg_hba.conf entry", ConnectionErrorKind.AUTH_FAILED),
]


def classify_message(message: str) -> ConnectionErrorKind:
    lowered = message.lower()
    # "no pg_hba.conf entry ... no encryption" means the server insists on TLS.
    if "no pg_hba.conf entry" in lowered and "no encryption" in lowered:
        return ConnectionErrorKind.TLS
    for fragment, kind in _MESSAGE_KINDS:
        if fragment in lowered:
            return kind
    return ConnectionErrorKind.UNKNOWN


# --- tool environment -------------------------------------------------------------------


def _system_ca_file() -> str:
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.openssl_cafile


def pgpass_line(spec: ConnectionSpec, password: str) -> str:
    """A ~/.pgpass line for exactly the spec's host, port, database and user (the values
    the tool gets in PGHOST, PGPORT, PGDATABASE, PGUSER): a connection anywhere else
    finds no password in it. libpq reads backslash and colon escaped with a backslash.
    Two lines for a socket folder: as itself, and as libpq names its default one."""
    hosts = [plain_host(spec)]
    if hosts[0].startswith("/"):
        # libpq looks up a socket in its default folder as "localhost" instead.
        hosts.append("localhost")
    rest = [str(spec.port), spec.database, spec.username, password]
    return "".join(":".join(_pgpass_field(v) for v in [host, *rest]) + "\n" for host in hosts)


def _pgpass_field(value: str) -> str:
    escaped = reject_line_breaks(value, "connection setting").replace("\\", "\\\\")
    return escaped.replace(":", "\\:")


@contextmanager
def _tool_env(
    spec: ConnectionSpec, tool: ResolvedTool, workdir: Path, address: str | None = None
) -> Iterator[dict[str, str]]:
    """libpq settings for a client tool; the password lives in a 0600 PGPASSFILE
    that exists only while the context is open. With `address` (where our own connection
    just reached the server) the tool connects there: it looks no name up, which nothing
    would bound (PGCONNECT_TIMEOUT covers only the connection), and TLS and PGPASSFILE
    still go by the name (PGHOST)."""
    env = {
        **tool.env,
        "PGHOST": plain_host(spec),
        "PGPORT": str(spec.port),
        "PGUSER": spec.username,
        "PGDATABASE": spec.database,
        "PGSSLMODE": _sslmode(spec.tls_mode),
        "PGCONNECT_TIMEOUT": str(max(2, math.ceil(spec.connect_timeout_seconds))),
        "PGAPPNAME": _APPLICATION_NAME,
        # No user files: not ~/.pgpass, ~/.pg_service.conf nor ~/.postgresql/.
        "HOME": str(workdir),
    }
    if address is not None:
        env["PGHOSTADDR"] = address
    if spec.tls_mode is TlsMode.VERIFY_FULL:
        # The OS trust store: "system" from libpq 16, its file before.
        system = (tool.major or 0) >= 16
        env["PGSSLROOTCERT"] = "system" if system else _system_ca_file()
    password = spec.password_to_send()
    if not password:
        # A file that does not exist: libpq then reads no ~/.pgpass either.
        env["PGPASSFILE"] = str(workdir / f".pgpass-none-{secrets.token_hex(8)}")
        yield env
        return
    with private_file(workdir, "pgpass", pgpass_line(spec, password)) as passfile:
        env["PGPASSFILE"] = str(passfile)
        yield env
