"""A backup and a restore of a server registered with `auth: entra`, through the emulator:
no password anywhere, the app's identity (a stand-in credential) gets the token, and a
MariaDB with TLS whose user's password is that token takes it. Azure's own token check is
not reachable from here (unverified)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from emulator.testing import run_emulator
from shared import entra_tokens, jobs
from shared.models import BackupStatus, Database, Engine, Server, ServerAuth, TlsMode, Trigger
from tests.engines.entra_stand_in import StandInCredential, fake_token
from tests.engines.mariadb_tls_server import SERVER, MariaDbTlsServer, start_mariadb_tls_server
from tests.orchestration.conftest import APP_DIR, Catalog

USER = "dilux-app"


@pytest.fixture
def azure_like_mysql() -> Iterator[MariaDbTlsServer]:
    if not SERVER.exists():
        pytest.skip(f"no MariaDB server binary at {SERVER}")
    server = start_mariadb_tls_server()
    yield server
    server.stop()


def admin(server: MariaDbTlsServer, *statements: str, args: Any = None) -> Any:
    conn = pymysql.connect(unix_socket=str(server.socket_path), user="root", autocommit=True)
    with conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, args)
        return cursor.fetchall()


async def finished(emu: Any, name: str, instance_id: str, job: Any) -> dict[str, Any]:
    await emu.runtime.start_new(name, instance_id, json.dumps(jobs.dump_json(job)))
    status = await emu.runtime.wait_for_instance(instance_id, timeout=120)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


@pytest.mark.slow
async def test_backup_and_restore_with_the_apps_identity_and_no_password(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    azure_like_mysql: MariaDbTlsServer,
) -> None:
    token = fake_token()
    identity = StandInCredential(token)
    admin(azure_like_mysql, f"CREATE USER '{USER}'@'%%' IDENTIFIED BY %s", args=(token,))
    admin(
        azure_like_mysql,
        f"GRANT ALL ON *.* TO '{USER}'@'%'",
        "CREATE DATABASE shop",
        "CREATE TABLE shop.items (id INT PRIMARY KEY, name TEXT)",
        "INSERT INTO shop.items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')",
    )
    repositories = catalog.repositories
    server = Server(
        id="azure-mysql", name="azure", engine=Engine.MYSQL, host="localhost",
        port=azure_like_mysql.port, username=USER, tls_mode=TlsMode.VERIFY_FULL,
        auth=ServerAuth.ENTRA,
    )  # fmt: skip
    repositories.servers.upsert(server)
    repositories.databases.upsert(Database(id="shop", server_id=server.id, name="shop"))
    env = {
        **app_env,
        "ENTRA_DATABASE_HOSTS": "localhost",  # stands for *.mysql.database.azure.com
        "SSL_CERT_FILE": str(azure_like_mysql.ca_file),  # stands for the public CAs
    }
    entra_tokens.use_credential(identity)
    try:
        async with run_emulator(APP_DIR, tmp_path / "state.db", env=env) as emu:
            job = jobs.BackupJob(database_id="shop", trigger=Trigger.MANUAL)
            backup = jobs.manual_backup_instance_id("shop", "entra")
            output = jobs.BackupOutput.model_validate(
                await finished(emu, jobs.BACKUP_DATABASE, backup, job)
            )
            assert output.status is BackupStatus.SUCCEEDED, output
            (record,) = catalog.records("shop")
            restore = jobs.RestoreJob(
                database_id="shop", backup_id=record.id, target_database="shop_restored"
            )
            restore_id = jobs.restore_instance_id("shop", record.id, "r1")
            restored = jobs.RestoreOutput.model_validate(
                await finished(emu, jobs.RESTORE_BACKUP, restore_id, restore)
            )
    finally:
        entra_tokens.use_credential(None)
    assert restored.ok and restored.tables_compared == 1, restored
    assert admin(azure_like_mysql, "SELECT count(*) FROM shop_restored.items") == ((4,),)
    assert record.manifest is not None and record.manifest.tables[0].rows == 4
    # One token served every connection of both jobs (cached), for the database resource.
    assert set(identity.scopes) == {(entra_tokens.DEFAULT_SCOPE,)}
    assert len(identity.scopes) == 1
