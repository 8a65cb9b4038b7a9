"""What the client tools read besides our own settings: nothing.

- Version and capability probes run with the same minimal environment as dumps and
  restores: never this process's storage keys or secret store key.
- The MariaDB tools read our option file only (--defaults-file): neither /etc/mysql's
  files nor a ~/.my.cnf in the child's HOME can add a host, a port, a socket or turn TLS
  off.
- A psql without \\restrict, or a mariadb client without --sandbox, is refused for
  restores: it would run the client commands of a blob whose checksum is not yet known.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from shared.engines import mysql, postgres, tools
from shared.engines.base import ConnectionErrorKind, EngineError, ToolCommand
from shared.engines.mysql import MySqlEngine
from shared.engines.postgres import PostgresEngine
from shared.engines.tools import ResolvedTool
from shared.models import Engine, TlsMode
from tests.conftest import unique_name
from tests.engines.conftest import Pg18, mariadb_spec, pg15_spec, run_dump, run_restore
from tests.impostors import Impostor, MySqlImpostor, impostor

SECRETS = {
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountKey=c3RvcmFnZS1rZXk=",
    "BACKUP_STORAGE_CONNECTION_STRING": "AccountKey=YmFja3VwLWtleQ==",
    "LOCAL_SECRET_KEY": "bG9jYWwtc2VjcmV0LWtleQ==",
    "PGPASSWORD": "stray-pg-password",
    "MYSQL_PWD": "stray-mysql-password",
}


def _fake_tool(folder: Path, name: str, version: str, help_text: str) -> Path:
    """A tool that writes its environment next to itself and answers --version/--help."""
    path = folder / name
    path.write_text(
        "#!/bin/sh\n"
        f'env > "{folder}/{name}.env"\n'
        'case "$1" in\n'
        f"  --version) echo '{version}' ;;\n"
        f"  --help*) printf '%s\\n' '{help_text}' ;;\n"
        "esac\n",
        encoding="utf-8",
    )
    path.chmod(0o700)
    return path


@pytest.fixture
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)


def _assert_no_secret(env_file: Path) -> None:
    seen = env_file.read_text(encoding="utf-8")
    assert "PATH=" in seen
    for key, value in SECRETS.items():
        assert key not in seen and value not in seen, key


def test_the_version_probe_gets_the_tools_minimal_environment(
    secrets_in_environment: None, tmp_path: Path
) -> None:
    path = _fake_tool(tmp_path, "pg_dump", "pg_dump (PostgreSQL) 17.6", "")
    assert tools.tool_version(path, {"LD_LIBRARY_PATH": "/opt/x"}) == "pg_dump (PostgreSQL) 17.6"
    _assert_no_secret(tmp_path / "pg_dump.env")
    assert "LD_LIBRARY_PATH=/opt/x" in (tmp_path / "pg_dump.env").read_text(encoding="utf-8")


@pytest.mark.parametrize("probe", ["knows_restrict", "knows_sandbox", "knows_require_auth"])
def test_capability_probes_get_the_tools_minimal_environment(
    secrets_in_environment: None, tmp_path: Path, probe: str
) -> None:
    path = _fake_tool(tmp_path, "psql", "psql (PostgreSQL) 17.6", "")
    getattr(tools, probe)(ResolvedTool("psql", path, "psql (PostgreSQL) 17.6"))
    _assert_no_secret(tmp_path / "psql.env")


# --- restore tools that cannot lock out the dump's client commands ------------------------


def test_a_psql_without_restrict_is_refused_for_restores(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = _fake_tool(bin_dir, "psql", "psql (PostgreSQL) 15.13", "  \\q  quit psql")
    tool = ResolvedTool("psql", old, "psql (PostgreSQL) 15.13")
    assert not tools.knows_restrict(tool)
    monkeypatch.setattr(postgres, "_client_tool", lambda name, major, spec: tool)
    work = tmp_path / "work"
    work.mkdir()
    with (
        pytest.raises(EngineError) as refused,
        PostgresEngine().restore_command(pg15_spec(postgres_database), work),
    ):
        pass
    assert refused.value.kind is ConnectionErrorKind.TOOL_MISSING
    assert "\\restrict" in refused.value.message
    assert not list(work.iterdir())


def test_every_psql_here_knows_restrict() -> None:
    assert all(tools.knows_restrict(tool) for tool in tools.find_all("psql"))


def test_a_mariadb_client_without_sandbox_is_refused_for_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _fake_tool(tmp_path, "mariadb", "mariadb Ver 15.1 Distrib 10.11.6-MariaDB", "-B, --batch")
    tool = ResolvedTool("mariadb", old, "mariadb Ver 15.1 Distrib 10.11.6-MariaDB")
    assert not tools.knows_sandbox(tool)
    monkeypatch.setattr(mysql, "find_any", lambda names: tool)
    work = tmp_path / "work"
    work.mkdir()
    with (
        pytest.raises(EngineError) as refused,
        MySqlEngine().restore_command(mariadb_spec("shop"), work),
    ):
        pass
    assert refused.value.kind is ConnectionErrorKind.TOOL_MISSING
    assert "--sandbox" in refused.value.message
    assert not list(work.iterdir())


def test_the_mariadb_client_here_knows_sandbox() -> None:
    assert tools.knows_sandbox(tools.find_any(mysql.CLIENT_TOOLS))


# --- MariaDB tools: our option file only ------------------------------------------------------


def _read_options(command: ToolCommand) -> str:
    """The options the tool would start with, from every option file it reads."""
    argv = [*command.argv[:2], "--print-defaults"]
    completed = subprocess.run(
        argv, env=command.process_env(), capture_output=True, timeout=30, check=False
    )
    assert completed.returncode == 0
    return completed.stdout.decode()


@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_the_mariadb_tools_read_no_system_option_file(tmp_path: Path, build: str) -> None:
    """The machine's /etc/mysql/my.cnf names a socket for [client-server]: not for us."""
    with getattr(MySqlEngine(), build)(mariadb_spec("shop"), tmp_path) as command:
        options = _read_options(command)
    assert "--host=127.0.0.1" in options and "--port=3306" in options
    assert "--socket" not in options


HOSTILE_MY_CNF = """\
[client]
host=127.0.0.9
port=1
skip-ssl
disable-ssl-verify-server-cert
[mysql]
execute="SELECT 1"
[mariadb-dump]
where=0
"""


@pytest.fixture
def hostile_home(tmp_path: Path) -> Path:
    """The folder the tools get as HOME, with a ~/.my.cnf we did not write."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".my.cnf").write_text(HOSTILE_MY_CNF, encoding="utf-8")
    return home


def test_a_hostile_my_cnf_in_home_changes_nothing(
    mariadb_database: str, hostile_home: Path, tmp_path: Path
) -> None:
    source = mariadb_spec(mariadb_database)
    conn = pymysql.connect(host="127.0.0.1", user="root", database=mariadb_database)
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INT)")
        cursor.execute("INSERT INTO t VALUES (1), (2), (3)")
    conn.commit()
    conn.close()
    with MySqlEngine().dump_command(source, hostile_home) as command:
        assert command.env["HOME"] == str(hostile_home)
        dump = run_dump(command, tmp_path / "dump.sql")
    assert dump.returncode == 0, dump.stderr
    assert b"INSERT INTO `t` VALUES" in dump.path.read_bytes()

    target = mariadb_spec(unique_name("my_restored_"))
    MySqlEngine().create_database(target)
    try:
        with MySqlEngine().restore_command(target, hostile_home) as command:
            returncode, stderr = run_restore(command, dump.path)
        assert returncode == 0, stderr
        conn = pymysql.connect(host="127.0.0.1", user="root", database=target.database)
        with conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM t")
            assert cursor.fetchone()[0] == 3
        conn.close()
    finally:
        MySqlEngine().drop_database(target)


@pytest.fixture
def mysql_impostor() -> Iterator[Impostor]:
    with impostor(MySqlImpostor) as server:
        yield server


@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_a_hostile_my_cnf_cannot_turn_tls_off_for_an_impostor(
    mysql_impostor: Impostor, hostile_home: Path, build: str
) -> None:
    (hostile_home / ".my.cnf").write_text(
        "[client]\nskip-ssl\nskip-ssl-verify-server-cert\n", encoding="utf-8"
    )
    spec = mariadb_spec(
        "shop", port=mysql_impostor.port, password="bait-Pw9", tls_mode=TlsMode.REQUIRE
    )
    with getattr(MySqlEngine(Engine.MARIADB), build)(spec, hostile_home) as command:
        completed = subprocess.run(
            command.argv, env=command.process_env(), stdin=subprocess.DEVNULL,
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    assert completed.returncode != 0
    assert mysql_impostor.connections, completed.stderr
    assert not mysql_impostor.answered, completed.stderr
    assert not mysql_impostor.captured("bait-Pw9")


# --- TLS required: the tools refuse the machine's real servers, which have no TLS ---------


def _run(command: ToolCommand) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command.argv, env=command.process_env(), stdin=subprocess.DEVNULL,
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("mode", [TlsMode.REQUIRE, TlsMode.VERIFY_FULL])
@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_the_mariadb_tools_refuse_a_real_server_without_tls(
    mariadb_database: str, tmp_path: Path, build: str, mode: TlsMode
) -> None:
    spec = mariadb_spec(mariadb_database, tls_mode=mode)
    with getattr(MySqlEngine(), build)(spec, tmp_path) as command:
        completed = _run(command)
    assert completed.returncode != 0
    assert b"SSL is required, but the server does not support it" in completed.stderr


@pytest.mark.parametrize("mode", [TlsMode.REQUIRE, TlsMode.VERIFY_FULL])
@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_pg_dump_and_psql_refuse_a_real_server_without_tls(
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    build: str,
    mode: TlsMode,
) -> None:
    # The engine's own version query would already fail over TLS: let the tool try.
    monkeypatch.setattr(PostgresEngine, "server_major_and_address", lambda self, spec: (15, None))
    spec = pg15_spec(postgres_database, tls_mode=mode)
    with getattr(PostgresEngine(), build)(spec, tmp_path) as command:
        completed = _run(command)
    assert completed.returncode != 0
    assert b"server does not support SSL, but SSL was required" in completed.stderr


def test_the_password_file_answers_only_for_the_target_database(
    pg18: Pg18, pg18_database: str, tmp_path: Path
) -> None:
    """psql given another database (as a `\\connect` in a dump would) finds no password for
    it in the file it got for its own."""
    with PostgresEngine().restore_command(pg18.spec(pg18_database), tmp_path) as command:
        env = command.process_env()
        own = subprocess.run(
            command.argv, env=env, input=b"SELECT 1;\n", capture_output=True, timeout=60
        )
        elsewhere = subprocess.run(
            command.argv, env={**env, "PGDATABASE": "postgres"}, input=b"SELECT 1;\n",
            capture_output=True, timeout=60,
        )  # fmt: skip
    assert own.returncode == 0, own.stderr
    assert elsewhere.returncode != 0
    assert b"no password supplied" in elsewhere.stderr
