"""The one interface every database engine implements.

An engine knows how to talk to its server (test, discover, version, catalogue, manifest) and
which client tool commands dump and restore a database. It never moves backup bytes itself:
the dump pipeline (`shared/pipeline/`) runs the commands and streams their output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shared.engines.header_filter import HeaderLineFilter
from shared.entra_tokens import EntraSignIn, TokenUnavailable
from shared.models import DumpManifest, Engine, TableManifest, TlsMode
from shared.secrets.binding import Binding, PasswordNotBoundHere

# A table as (schema, name); the schema is None for MySQL/MariaDB (one database, no schemas).
TableName = tuple[str | None, str]


class ConnectionErrorKind(StrEnum):
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    DATABASE_MISSING = "database_missing"
    TLS = "tls"
    TIMEOUT = "timeout"
    NOT_SUPPORTED = "not_supported"
    UNKNOWN = "unknown"
    # Added by the engines: a request the engine refuses before touching the server
    # (e.g. an invalid database name), and a client tool that is not installed.
    INVALID_REQUEST = "invalid_request"
    TOOL_MISSING = "tool_missing"


class EngineError(Exception):
    """A failure talking to a database server; the message never holds a secret."""

    def __init__(self, kind: ConnectionErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class ConnectionSpec(BaseModel):
    """Everything needed to reach one database. The password is a SecretStr so that
    printing, logging or serialising the spec never reveals it."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    engine: Engine
    host: str
    port: int
    username: str
    password: SecretStr = SecretStr("")
    database: str
    tls_mode: TlsMode = TlsMode.REQUIRE
    connect_timeout_seconds: float = 10.0
    # Where a stored password was entered for (shared/secrets/binding.py); None for a
    # password given with the request itself.
    bound_to: Binding | None = None
    # `auth: entra` servers: a fresh Entra ID token is the password, got as each
    # connection opens (shared/entra_tokens.py); `password` stays empty.
    entra: EntraSignIn | None = Field(default=None, exclude=True, repr=False)

    @property
    def binding(self) -> Binding:
        """Where this spec connects: the address a password sent over it goes to."""
        return Binding.of(self.host, self.port, self.username, self.tls_mode)

    def password_to_send(self) -> str:
        """The password, for a connection to this spec's own address. A spec copied to
        another host, port, user or a weaker TLS mode gets none: an EngineError. With
        Entra sign-in, a token for this host, only over verify-full TLS."""
        if self.entra is not None:
            return self._token_to_send(self.entra)
        password = self.password.get_secret_value()
        if password and self.bound_to is not None and not self.bound_to.admits(self.binding):
            error = PasswordNotBoundHere()
            raise EngineError(ConnectionErrorKind.AUTH_FAILED, str(error)) from error
        return password

    def _token_to_send(self, entra: EntraSignIn) -> str:
        if self.tls_mode is not TlsMode.VERIFY_FULL:
            message = "an Entra ID token is sent only over verify-full TLS"
            raise EngineError(ConnectionErrorKind.TLS, message)
        if self.bound_to is not None and not self.bound_to.admits(self.binding):
            message = "this Entra sign-in belongs to another server address"
            raise EngineError(ConnectionErrorKind.AUTH_FAILED, message)
        try:
            return entra.token_for(self.host)
        except TokenUnavailable as exc:
            raise EngineError(ConnectionErrorKind.AUTH_FAILED, str(exc)) from None


class ConnectionResult(BaseModel):
    ok: bool
    server_version: str | None = None
    error_kind: ConnectionErrorKind | None = None
    message: str | None = None
    latency_ms: float | None = None


class DiscoveredDatabase(BaseModel):
    name: str
    is_system: bool = False
    size_bytes: int | None = None


@dataclass(frozen=True)
class ToolCommand:
    """A client tool invocation: argv carries no secret; env and private files carry them.
    `env` holds only what to add to the environment: start the tool with process_env()."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # The dump's own last words, checked by verify (e.g. b"-- Dump completed").
    completion_marker: bytes | None = None
    tool_version: str | None = None
    # Restores only: exact lines to remove from the start of the input before the tool
    # reads it (see shared/engines/header_filter.py: HeaderLineFilter does it).
    drop_header_lines: tuple[bytes, ...] = ()
    # Restores only: what the tool reads before the dump (psql: `\restrict <key>`), and
    # whether the dump's own psql `\restrict`/`\unrestrict` lines are left out.
    input_prefix: bytes = field(default=b"", repr=False)
    drop_psql_restrict: bool = False
    # Restores only: what the tool reads after the dump, still inside its transaction
    # (psql: the rows it inserted into each table), and the random line its answer
    # follows in the tool's output (everything before it is the dump's own output).
    input_suffix: bytes = field(default=b"", repr=False)
    output_marker: bytes | None = field(default=None, repr=False)

    def input_filter(self) -> HeaderLineFilter:
        """What turns the decompressed dump into the tool's input (see input_prefix and
        input_suffix)."""
        return HeaderLineFilter(
            self.drop_header_lines,
            prefix=self.input_prefix,
            drop_restrict=self.drop_psql_restrict,
            suffix=self.input_suffix,
        )

    def process_env(self) -> dict[str, str]:
        """The complete environment to start `argv` with: from this process's environment
        only where programs, libraries and CA certificates are, the locale and the time
        zone (never its storage keys, the secret store's key or the host's keys, nor a
        stray PGPASSWORD or MYSQL_PWD that would override our private password file),
        plus `env`."""
        return child_environment(self.env)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment every client tool runs with, whatever for (a dump, a restore, a
    version probe): the allowlist below from this process's environment, plus `extra`."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key in _INHERITED or key.startswith(_INHERITED_PREFIXES)
    }
    return {**inherited, **extra}


_INHERITED = frozenset(
    {"PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSL_CERT_FILE",
     "SSL_CERT_DIR"}
)  # fmt: skip
_INHERITED_PREFIXES = ("LC_",)


class DatabaseEngine(Protocol):
    engine: Engine
    # The dump's own last words, which verify looks for at its end; None: no marker.
    completion_marker: bytes | None

    def test_connection(self, spec: ConnectionSpec) -> ConnectionResult: ...

    def list_databases(self, spec: ConnectionSpec) -> list[DiscoveredDatabase]: ...

    def server_version(self, spec: ConnectionSpec) -> str: ...

    def catalogue(self, spec: ConnectionSpec) -> Catalogue:
        """The tables a dump may hold rows of, and the versions: metadata reads only."""
        ...

    def manifest(self, spec: ConnectionSpec) -> DumpManifest:
        """The catalogue with every table's rows counted by the server (it reads every
        table: for restore targets, whose comparison it is)."""
        ...

    def dump_command(
        self, spec: ConnectionSpec, workdir: Path
    ) -> AbstractContextManager[ToolCommand]:
        """Yields the dump command; private files (password files) live in `workdir`
        with mode 0600 only while the context is open."""
        ...

    def restore_command(
        self, spec: ConnectionSpec, workdir: Path
    ) -> AbstractContextManager[ToolCommand]: ...

    def restored_manifest(self, spec: ConnectionSpec, tool_output: bytes | None) -> DumpManifest:
        """The restored database's tables with their rows, for the comparison: from what
        the restore tool reported after ToolCommand.output_marker where the engine asks
        the server there (no table is read again), else as `manifest` counts them."""
        ...

    def create_database(self, spec: ConnectionSpec) -> None:
        """Creates `spec.database` (restore targets); EngineError if it exists."""
        ...

    def drop_database(self, spec: ConnectionSpec) -> None:
        """Drops `spec.database` if it exists, ending its sessions (drills' scratch
        databases); dropping one that does not exist does nothing."""
        ...

    def is_empty(self, spec: ConnectionSpec) -> bool: ...


@dataclass(frozen=True)
class Catalogue:
    """What a backup's manifest takes from the database rather than from the dump: the
    versions, the tables a dump may hold rows of, and the encoding the dump tool writes
    their names in (a Python codec name). `skipped`: tables left out of every manifest,
    whose rows a restore does not take from the dump alone (an extension's own). `rows`:
    the server's own count of each table, read only when asked for (an independent check
    of the counts taken from the dump)."""

    server_version: str
    tool_version: str
    tables: list[TableName]
    encoding: str = "utf-8"
    skipped: frozenset[TableName] = frozenset()
    rows: dict[TableName, int] | None = None

    def manifest(
        self, engine: Engine, database: str, rows: Mapping[TableName, int]
    ) -> DumpManifest:
        """The catalogue's tables with `rows` (0 for a table `rows` lacks), then the tables
        `rows` names that the catalogue does not (unless skipped)."""
        known = {*self.tables, *self.skipped}
        extra = sorted((name for name in rows if name not in known), key=_sort_key)
        return DumpManifest(
            engine=engine,
            database=database,
            server_version=self.server_version,
            tool_version=self.tool_version,
            tables=[
                TableManifest(schema_name=schema, name=name, rows=rows.get((schema, name), 0))
                for schema, name in [*self.tables, *extra]
            ],
        )


def _sort_key(name: TableName) -> tuple[str, str]:
    return (name[0] or "", name[1])


@dataclass(frozen=True)
class CatalogueReading:
    """How to read the catalogue (possibly on another thread, while the dump runs), and
    how to stop that reading early when the dump failed; None when it cannot be stopped."""

    read: Callable[[], Catalogue]
    cancel: Callable[[], None] | None = None


@runtime_checkable
class SnapshotDumper(Protocol):
    """Optional, for engines that can share one snapshot between the catalogue reading and
    the dump (PostgreSQL): the catalogue then lists exactly the tables the dump saw, and
    `count_rows` counts them in that very snapshot, even while the database is written to.
    The context yields how to read the catalogue, which may run while the dump runs, and
    the dump command. The snapshot lives while the context is open: run the dump and the
    reading inside it."""

    def dump_with_catalogue(
        self, spec: ConnectionSpec, workdir: Path, *, count_rows: bool = False
    ) -> AbstractContextManager[tuple[CatalogueReading, ToolCommand]]: ...
