"""The T-SQL the SQL Server engine sends, built as pure functions (tested directly).

Every value is bound as a parameter, including database names and URLs, which BACKUP,
RESTORE and MOVE accept as variables. The SAS token travels as a parameter too: the
server itself quotes it into CREATE/ALTER CREDENTIAL (CREDENTIAL_BATCH). Only CREATE
DATABASE needs a name spliced in, quoted with `quote_name` after validation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.engines.base import ConnectionErrorKind, ConnectionSpec, EngineError
from shared.models import TlsMode

# Microsoft's advice for backups to block blobs: 4 MiB transfers, 64 KiB blocks.
_BACKUP_OPTIONS = "COPY_ONLY, CHECKSUM, COMPRESSION, MAXTRANSFERSIZE = 4194304, BLOCKSIZE = 65536"
_BLOB_URL = re.compile(r"^https://[a-z0-9]{3,24}\.blob\.core\.windows\.net/[a-z0-9-]{3,63}/\S+$")

CREDENTIAL_BATCH = """
DECLARE @name sysname = ?;
DECLARE @secret nvarchar(max) = ?;
DECLARE @verb nvarchar(10) = CASE WHEN EXISTS (SELECT 1 FROM sys.credentials WHERE name = @name)
    THEN N'ALTER' ELSE N'CREATE' END;
DECLARE @sql nvarchar(max) = @verb + N' CREDENTIAL ' + QUOTENAME(@name)
    + N' WITH IDENTITY = N''SHARED ACCESS SIGNATURE'', SECRET = N'''
    + REPLACE(@secret, N'''', N'''''') + N'''';
EXEC (@sql);
"""

# --- statements (pure functions, tested directly) ------------------------------------------


def quote_name(name: str) -> str:
    """A SQL Server identifier in brackets, embedded ']' doubled."""
    return "[" + name.replace("]", "]]") + "]"


def url_variables(urls: Sequence[str]) -> tuple[str, list[str]]:
    names = [f"@url{index}" for index in range(len(urls))]
    declares = "\n".join(f"DECLARE {name} nvarchar(2048) = ?;" for name in names)
    return declares, names


def backup_statement(database: str, urls: Sequence[str]) -> tuple[str, list[str]]:
    """The BACKUP batch and its parameters (database, then each URL)."""
    declares, names = url_variables(urls)
    targets = ", ".join(f"URL = {name}" for name in names)
    statement = (
        "DECLARE @database sysname = ?;\n"
        f"{declares}\n"
        f"BACKUP DATABASE @database TO {targets} WITH {_BACKUP_OPTIONS};"
    )
    return statement, [database, *urls]


def restore_statement(
    database: str, urls: Sequence[str], moves: Sequence[tuple[str, str]], replace: bool
) -> tuple[str, list[str]]:
    """The RESTORE batch and its parameters (database, URLs, then logical/physical pairs)."""
    declares, names = url_variables(urls)
    move_lines = [
        f"DECLARE @logical{i} nvarchar(128) = ?; DECLARE @physical{i} nvarchar(260) = ?;"
        for i in range(len(moves))
    ]
    options = ["CHECKSUM", *(f"MOVE @logical{i} TO @physical{i}" for i in range(len(moves)))]
    if replace:
        options.append("REPLACE")
    sources = ", ".join(f"URL = {name}" for name in names)
    statement = "\n".join(
        [
            "DECLARE @database sysname = ?;",
            declares,
            *move_lines,
            f"RESTORE DATABASE @database FROM {sources} WITH {', '.join(options)};",
        ]
    )
    params = [database, *urls, *(value for pair in moves for value in pair)]
    return statement, params


def plan_moves(
    database: str, files: Sequence[tuple[str, str]], data_dir: str, log_dir: str
) -> list[tuple[str, str]]:
    """(logical name, new physical path) for each file of the backup, named after the
    target database so a restore next to the source never collides with its files."""
    moves = []
    for index, (logical, file_type) in enumerate(files):
        is_log = file_type == "L"
        folder = log_dir if is_log else data_dir
        extension = "ldf" if is_log else ("mdf" if index == 0 else "ndf")
        safe_logical = re.sub(r"[^A-Za-z0-9_]", "_", logical)
        safe_database = re.sub(r"[^A-Za-z0-9_]", "_", database)
        separator = "" if folder.endswith(("/", "\\")) else ("\\" if "\\" in folder else "/")
        moves.append((logical, f"{folder}{separator}{safe_database}_{safe_logical}.{extension}"))
    return moves


def connection_string(spec: ConnectionSpec, database: str | None = None) -> str:
    """An ODBC connection string; every value braced with '}' doubled."""
    encrypt, trust = {
        TlsMode.DISABLE: ("no", "no"),
        TlsMode.PREFER: ("optional", "no"),
        TlsMode.REQUIRE: ("yes", "yes"),
        TlsMode.VERIFY_FULL: ("yes", "no"),
    }[spec.tls_mode]
    parts = {
        "Server": f"tcp:{spec.host},{spec.port}",
        "Database": database or spec.database or "master",
        "UID": spec.username,
        "PWD": spec.password_to_send(),
        "Encrypt": encrypt,
        "TrustServerCertificate": trust,
    }
    return "".join(f"{key}={_brace(value)};" for key, value in parts.items())


def _brace(value: str) -> str:
    return "{" + value.replace("}", "}}") + "}"


def container_url(urls: Sequence[str]) -> str:
    """The credential name BACKUP TO URL looks up: the URL up to the container."""
    if not urls or not all(_BLOB_URL.match(url) for url in urls):
        raise EngineError(
            ConnectionErrorKind.INVALID_REQUEST,
            "backup URLs must be https://<account>.blob.core.windows.net/<container>/<blob>",
        )
    containers = {url.split("/", 4)[3] for url in urls}
    if len(containers) != 1:
        raise EngineError(ConnectionErrorKind.INVALID_REQUEST, "all stripes in one container")
    return "/".join(urls[0].split("/", 4)[:4])


# --- errors ------------------------------------------------------------------------------

_MESSAGE_KINDS: list[tuple[str, ConnectionErrorKind]] = [
    ("login timeout expired", ConnectionErrorKind.TIMEOUT),
    ("hyt00", ConnectionErrorKind.TIMEOUT),
    ("cannot open database", ConnectionErrorKind.DATABASE_MISSING),
    ("(4060)", ConnectionErrorKind.DATABASE_MISSING),
    ("does not exist", ConnectionErrorKind.DATABASE_MISSING),
    ("login failed", ConnectionErrorKind.AUTH_FAILED),
    ("(18456)", ConnectionErrorKind.AUTH_FAILED),
    ("ssl provider", ConnectionErrorKind.TLS),
    ("certificate", ConnectionErrorKind.TLS),
    ("encryption", ConnectionErrorKind.TLS),
    ("tcp provider", ConnectionErrorKind.UNREACHABLE),
    ("server was not found", ConnectionErrorKind.UNREACHABLE),
    ("network-related", ConnectionErrorKind.UNREACHABLE),
    ("08001", ConnectionErrorKind.UNREACHABLE),
]


def classify(message: str) -> ConnectionErrorKind:
    """The kind of a failure from the driver's message (ODBC messages carry the server's
    error number in parentheses, e.g. 'Login failed for user ... (18456)')."""
    lowered = message.lower()
    for fragment, kind in _MESSAGE_KINDS:
        if fragment in lowered:
            return kind
    return ConnectionErrorKind.UNKNOWN
