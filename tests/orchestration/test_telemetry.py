"""Telemetry of real backups through the emulator: the metrics a backup produces (read by the
OpenTelemetry SDK's in-memory reader, nothing exported) and the job fields on its log lines."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from emulator.testing import run_emulator
from shared import jobs, telemetry
from shared.backup_ages import report_backup_ages
from shared.job_context import FIELDS
from shared.models import BackupStatus, Database, Trigger
from shared.seed_policies import seeded_policy
from tests.orchestration.conftest import APP_DIR, Catalog, mariadb_server, pg_server
from tests.telemetry.metrics import recording

APP_LOGGERS = tuple(f"{name}." for name in telemetry.APP_LOGGERS)


def fill(database: str) -> None:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
        conn.execute(
            "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g"
        )


async def backup(emu: object, database_id: str, tag: str) -> str:
    instance = jobs.manual_backup_instance_id(database_id, tag)
    job = jobs.BackupJob(database_id=database_id, trigger=Trigger.MANUAL)
    await emu.runtime.start_new(jobs.BACKUP_DATABASE, instance, json.dumps(jobs.dump_json(job)))  # type: ignore[attr-defined]
    status = await emu.runtime.wait_for_instance(instance, timeout=120)  # type: ignore[attr-defined]
    assert status["runtimeStatus"] == "Completed", status
    return instance


@pytest.mark.slow
async def test_a_real_backup_and_a_failed_one_produce_their_data_points_and_job_fields(
    tmp_path: Path,
    app_env: dict[str, str],
    catalog: Catalog,
    postgres_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill(postgres_database)
    repositories = catalog.repositories
    repositories.servers.upsert(pg_server("pg"))
    repositories.servers.upsert(mariadb_server("my"))
    repositories.databases.upsert(Database(id="shop", server_id="pg", name=postgres_database))
    repositories.databases.upsert(Database(id="gone", server_id="my", name="no_such_database"))
    caplog.set_level(logging.INFO)
    with recording() as recorded:
        async with run_emulator(APP_DIR, tmp_path / "state.db", env=app_env) as emu:
            good = await backup(emu, "shop", "good")
            bad = await backup(emu, "gone", "bad")
        (record,) = catalog.records("shop")
        (failed,) = catalog.records("gone")
        assert record.status is BackupStatus.SUCCEEDED and failed.status is BackupStatus.FAILED

        pg = {"engine": "postgresql", "database": "shop", "server": "pg"}
        my = {"engine": "mariadb", "database": "gone", "server": "my"}
        counted = [(p.attributes, p.value) for p in recorded.named(telemetry.BACKUPS)]
        assert sorted(counted, key=str) == sorted(
            [({**pg, "outcome": "succeeded"}, 1), ({**my, "outcome": "failed"}, 1)], key=str
        )
        durations = {
            p.attributes["database"]: p.value for p in recorded.named(telemetry.BACKUP_DURATION)
        }
        seconds = (record.finished_at - record.started_at).total_seconds()
        assert durations["shop"] == (1, pytest.approx(seconds))
        assert "gone" not in durations  # its connection test failed: no dump was timed
        [raw] = recorded.named(telemetry.BACKUP_RAW_BYTES)
        [stored] = recorded.named(telemetry.BACKUP_STORED_BYTES)
        assert raw.attributes == stored.attributes == {**pg, "outcome": "succeeded"}
        assert raw.value == (1, record.raw_bytes) and stored.value == (1, record.stored_bytes)
        assert record.raw_bytes > 50_000 and 0 < record.stored_bytes < record.raw_bytes
        [age] = recorded.named(telemetry.BACKUP_AGE)  # the failed database has no success
        assert age.attributes == pg and 0 <= age.value < 120

    lines = [r for r in caplog.records if r.name.startswith(APP_LOGGERS)]
    for instance, database, server in ((good, "shop", "pg"), (bad, "gone", "my")):
        about = [r for r in lines if getattr(r, "instance_id", None) == instance]
        assert about, f"no line about {instance}"
        record_id = jobs.backup_record_id(instance)
        for line in about:
            fields = {name: getattr(line, name, None) for name in FIELDS}
            assert fields == {
                "instance_id": instance, "record_id": record_id,
                "database": database, "server": server,
            }, line.getMessage()  # fmt: skip
    messages = [r.getMessage() for r in lines if getattr(r, "database", None) == "shop"]
    assert any(m.startswith("dump started") for m in messages)
    assert any(m.startswith("backup succeeded") for m in messages)
    assert any(
        r.getMessage().startswith("backup failed: ")
        for r in lines
        if getattr(r, "database", "") == "gone"
    )
    # Lines about no job carry no job fields.
    assert all(
        not hasattr(r, "record_id") for r in caplog.records if r.name.startswith("emulator.")
    )


def test_the_watchdog_reports_each_scheduled_databases_age(
    app_env: dict[str, str], catalog: Catalog
) -> None:
    repositories = catalog.repositories
    repositories.policies.upsert(seeded_policy("development"))
    repositories.servers.upsert(pg_server("pg", default_policy_id="development"))
    repositories.databases.upsert(Database(id="never", server_id="pg", name="a"))
    repositories.databases.upsert(Database(id="off", server_id="pg", name="b", enabled=False))
    done = datetime.now(UTC) - timedelta(hours=30)
    repositories.databases.upsert(Database(id="old", server_id="pg", name="c"))
    from shared.models import BackupRecord

    repositories.backups.create(
        BackupRecord(
            id="r1", database_id="old", server_id="pg", status=BackupStatus.SUCCEEDED,
            created_at=done - timedelta(minutes=5), finished_at=done,
        )
    )  # fmt: skip
    assert report_backup_ages(repositories) == 0  # telemetry off: nothing read
    with recording() as recorded:
        assert report_backup_ages(repositories) == 2
        ages = {p.attributes["database"]: p.value for p in recorded.named(telemetry.BACKUP_AGE)}
    assert set(ages) == {"never", "old"}
    assert 30 * 3600 <= ages["old"] < 30 * 3600 + 120
    assert 0 <= ages["never"] < 120  # counted from when it was added, just now
