"""What the emulated drill tests share: databases to back up (one whose restore is slow on
purpose), jobs started and awaited through the emulator's runtime, scratch databases seen."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pymysql
from azure.storage.blob import BlobServiceClient

from emulator.testing import RunningEmulator
from shared import jobs
from shared.models import BackupRecord, DrillRecord, Trigger
from tests.conftest import azurite_connection_string

PG = "host=127.0.0.1 port=5432 user=postgres dbname={}"
NO_WATCHDOG = {"AzureWebJobs.watchdog.Disabled": "true"}


def pg_exec(database: str, *statements: str) -> None:
    with psycopg.connect(PG.format(database), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def fill_postgres(database: str, rows: int = 500) -> None:
    pg_exec(
        database,
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)",
        f"INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, {rows}) g",
    )


def fill_slow_postgres(database: str, rows: int = 10, seconds: float = 0.4) -> None:
    """A table whose CHECK constraint sleeps for every row: its restore (COPY checks each
    row) takes rows x seconds, long enough to interrupt a drill while it restores."""
    pg_exec(
        database,
        "CREATE FUNCTION slow_ok(n integer) RETURNS boolean LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN true; END $$",
        "CREATE TABLE slow (id integer PRIMARY KEY CHECK (slow_ok(id)))",
        f"INSERT INTO slow SELECT g FROM generate_series(1, {rows}) g",
    )


def fill_mariadb(database: str, rows: int = 300) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=database)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT)")
            # MariaDB's sequence engine: one statement whatever the count
            cursor.execute(
                f"INSERT INTO items (name) SELECT CONCAT('item ', seq) FROM seq_1_to_{rows:d}"
            )
        conn.commit()
    finally:
        conn.close()


def pg_databases() -> set[str]:
    with psycopg.connect(PG.format("postgres")) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def mariadb_databases() -> set[str]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            return {row[0] for row in cursor.fetchall()}
    finally:
        conn.close()


async def start(emu: RunningEmulator, name: str, instance_id: str, data: Any) -> None:
    await emu.runtime.start_new(name, instance_id, json.dumps(jobs.dump_json(data)))


async def finished(emu: RunningEmulator, instance_id: str) -> Any:
    status = await emu.runtime.wait_for_instance(instance_id, 180)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


async def backed_up(emu: RunningEmulator, database_id: str, unique: str) -> jobs.BackupOutput:
    instance_id = jobs.manual_backup_instance_id(database_id, unique)
    job = jobs.BackupJob(database_id=database_id, trigger=Trigger.MANUAL)
    await start(emu, jobs.BACKUP_DATABASE, instance_id, job)
    output = jobs.BackupOutput.model_validate(await finished(emu, instance_id))
    assert output.status == "succeeded", output
    return output


def drill_instance(database_id: str, unique: str) -> str:
    return jobs.manual_drill_instance_id(database_id, unique)


async def start_drill(
    emu: RunningEmulator, database_id: str, unique: str, backup_id: str | None = None
) -> str:
    instance_id = drill_instance(database_id, unique)
    job = jobs.DrillJob(database_id=database_id, trigger=Trigger.MANUAL, backup_id=backup_id)
    await start(emu, jobs.DRILL_DATABASE, instance_id, job)
    return instance_id


async def drilled(
    emu: RunningEmulator, database_id: str, unique: str, backup_id: str | None = None
) -> DrillRecord:
    instance_id = await start_drill(emu, database_id, unique, backup_id)
    return DrillRecord.model_validate(await finished(emu, instance_id))


def flip_a_byte(container: str, record: BackupRecord) -> None:
    """Changes one byte in the middle of the backup's blob, as a storage fault would."""
    assert record.blob_name is not None
    service = BlobServiceClient.from_connection_string(azurite_connection_string())
    blob = service.get_blob_client(container, record.blob_name)
    data = bytearray(blob.download_blob().readall())
    data[len(data) // 2] ^= 0x01
    blob.upload_blob(bytes(data), overwrite=True)


def archive(container: str, record: BackupRecord) -> None:
    assert record.blob_name is not None
    service = BlobServiceClient.from_connection_string(azurite_connection_string())
    service.get_blob_client(container, record.blob_name).set_standard_blob_tier("Archive")
