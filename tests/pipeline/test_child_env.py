"""Dump and restore tools get only the environment they need (issue 10, section 6): none
of the app's secrets (storage keys, the local secret store's key, the host's keys, the
managed identity's), however many this process holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from shared.engines.base import ConnectionSpec, ToolCommand
from shared.engines.mysql import MySqlEngine
from shared.engines.postgres import PostgresEngine
from shared.models import Engine, TlsMode
from shared.pipeline.process import ToolProcess

APP_SECRETS = {
    "BACKUP_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=acct-key-1",
    "AzureWebJobsStorage": "AccountName=x;AccountKey=acct-key-2",
    "LOCAL_SECRET_KEY": "bG9jYWwtc2VjcmV0LWtleQ==",
    "EMULATOR_MASTER_KEY": "master-key-3",
    "EMULATOR_SYSTEM_KEY": "system-key-4",
    "EMULATOR_FUNCTION_KEY": "function-key-5",
    "IDENTITY_HEADER": "identity-header-6",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=ikey-7",
    "PGPASSWORD": "stray-pg-8",
    "MYSQL_PWD": "stray-mysql-9",
}
ALLOWED = {"PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSL_CERT_FILE",
           "SSL_CERT_DIR"}  # fmt: skip
SPECS = [
    ConnectionSpec(engine=Engine.POSTGRESQL, host="127.0.0.1", port=5432, username="postgres",
                   password="db-password-10", database="postgres", tls_mode=TlsMode.DISABLE),
    ConnectionSpec(engine=Engine.MARIADB, host="127.0.0.1", port=3306, username="root",
                   password="db-password-10", database="mysql", tls_mode=TlsMode.DISABLE),
]  # fmt: skip
ENV_DUMPER = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def _env_seen_by(command: ToolCommand, report: Path) -> dict[str, str]:
    """Runs a stand-in for the tool, with the tool's own variables, the way the pipeline
    starts tools, and returns the environment it got."""
    stand_in = ToolCommand([sys.executable, "-c", ENV_DUMPER, str(report)], command.env)
    process = ToolProcess(stand_in)
    assert process.finish() == 0, process.stderr_tail()
    process.close()
    return json.loads(report.read_text())


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.engine.value)
@pytest.mark.parametrize("build", ["dump_command", "restore_command"])
def test_a_tool_inherits_none_of_the_apps_secrets(
    spec: ConnectionSpec, build: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in APP_SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    engine = PostgresEngine() if spec.engine is Engine.POSTGRESQL else MySqlEngine()
    workdir = tmp_path / "work"
    workdir.mkdir()
    with getattr(engine, build)(spec, workdir) as command:
        seen = _env_seen_by(command, tmp_path / "env.json")
    leaked = [key for key, value in APP_SECRETS.items() if value in json.dumps(seen)]
    assert not leaked
    assert set(seen) <= ALLOWED | set(command.env) | {"LC_CTYPE"}  # Python may add LC_CTYPE
    assert seen["HOME"] == str(workdir)  # no ~/.my.cnf or ~/.pgpass of the user
    assert seen["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"  # CAs still trusted
    assert "db-password-10" not in json.dumps(seen)  # it is in a 0600 file, not the env
