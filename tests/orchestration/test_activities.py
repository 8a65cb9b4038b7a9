"""Activities called directly (no host) against Azurite: idempotence and retention steps."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from shared import jobs
from shared.models import BackupRecord, BackupStatus, Database, Tier, Trigger
from shared.notify import NotificationFailed, post_json
from shared.seed_policies import seeded_policy
from tests.conftest import serving
from tests.orchestration.conftest import (
    FAKE_WORKER,
    SCRIPTED_WORKER,
    Catalog,
    blob_names,
    pg_server,
)
from tests.orchestration.fake_worker import SCRIPTED_WORKER as SCRIPT

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def activities(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {**app_env, "BACKUP_WORKER": FAKE_WORKER}.items():
        monkeypatch.setenv(name, value)
    import activities.backup
    import activities.retention

    return activities


@pytest.fixture
def scripted(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The activities with the scripted worker at the seam (SCRIPT.reset(...) plans it)."""
    for name, value in {**app_env, "BACKUP_WORKER": SCRIPTED_WORKER}.items():
        monkeypatch.setenv(name, value)
    SCRIPT.reset()
    import activities.backup

    yield activities
    SCRIPT.released.set()


def call(function: Any, data: Any) -> Any:
    return function._function._func(data)


def arrange(catalog: Catalog) -> None:
    repositories = catalog.repositories
    repositories.policies.upsert(seeded_policy("development"))
    repositories.servers.upsert(
        pg_server("srv", default_policy_id="development", max_concurrent_backups=1)
    )
    repositories.databases.upsert(Database(id="db", server_id="srv", name="d"))


def prepare(activities: Any, record_id: str = "rec-1") -> jobs.PreparedBackup:
    job = jobs.BackupJob(database_id="db", slot_time=NOW, tiers=[Tier.DAILY])
    ask = jobs.PrepareBackupInput(job=job, record_id=record_id, instance_id="job-1", now=NOW)
    return jobs.PreparedBackup.model_validate(
        call(activities.backup.prepare_backup, jobs.dump_json(ask))
    )


def test_prepare_and_dump_are_idempotent(activities: Any, catalog: Catalog) -> None:
    arrange(catalog)
    first, again = prepare(activities), prepare(activities)
    assert first.server_limit == 1 and first.policy_id == "development" and not first.already_done
    assert again.record_id == first.record_id and len(catalog.records("db")) == 1
    assert first.target is not None
    dump_input = jobs.dump_json(jobs.DumpInput(target=first.target))
    one = call(activities.backup.dump_database, dump_input)
    (first_record,) = catalog.records("db")
    assert first_record.manifest is not None and first_record.instance_id == "job-1"
    two = call(activities.backup.dump_database, dump_input)  # a re-run after a lost result
    assert one == two
    (record,) = catalog.records("db")
    assert (
        record.status is BackupStatus.SUCCEEDED and record.blob_name == one["result"]["blob_name"]
    )
    # the re-run kept what only the first attempt knew (the manifest is not in blob metadata)
    assert record.manifest == first_record.manifest
    assert record.tool_version == first_record.tool_version
    assert prepare(activities).already_done


def test_a_failure_is_recorded_once_with_a_sanitised_reason(
    activities: Any, catalog: Catalog
) -> None:
    arrange(catalog)
    prepared = prepare(activities)
    secret_text = "dump died\npassword=hunter2 \nTraceback (most recent call last):\n  File x"
    finish = jobs.FinishBackupInput(
        database_id="db", record_id=prepared.record_id, succeeded=False, error=secret_text
    )
    result = call(activities.backup.finish_backup, jobs.dump_json(finish))
    assert result["status"] == "failed"
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.FAILED and record.error is not None
    assert "hunter2" not in record.error and "Traceback" not in record.error
    assert "dump died" in record.error


def old_record(record_id: str, days: int, **extra: Any) -> BackupRecord:
    values = {
        "id": record_id,
        "database_id": "db",
        "server_id": "srv",
        "status": BackupStatus.SUCCEEDED,
        "tiers": [Tier.DAILY],
        "trigger": Trigger.SCHEDULE,
        "slot_time": NOW - timedelta(days=days),
        "created_at": NOW - timedelta(days=days),
        **extra,
    }
    return BackupRecord(**values)


def test_retention_finishes_a_half_done_deletion_and_deletes_beyond_keep(
    activities: Any, catalog: Catalog
) -> None:
    arrange(catalog)
    from activities.wiring import services

    blobs, repositories = services().blobs, catalog.repositories
    for days in range(9):  # development keeps 7 daily
        name = f"srv/db/{days}.sql.zst"
        blobs.upload(name, b"x")
        record = old_record(f"d{days}", days, blob_name=name, sha256="0" * 64)
        if days == 8:  # an earlier run marked it expired, then stopped before the blob
            record = record.model_copy(update={"status": BackupStatus.EXPIRED})
        repositories.backups.upsert(record)
    repositories.backups.upsert(old_record("f1", 10, status=BackupStatus.FAILED, tiers=[]))

    ask = jobs.RetentionInput(database_id="db", now=NOW)
    result = jobs.RetentionResult.model_validate(
        call(activities.retention.apply_retention, jobs.dump_json(ask))
    )
    assert sorted(result.deleted) == ["d7", "d8", "f1"]
    records = {r.id: r for r in catalog.records("db")}
    assert "f1" not in records  # old failed records are removed
    for record_id in ("d7", "d8"):
        assert (
            records[record_id].status is BackupStatus.EXPIRED
            and records[record_id].blob_name is None
        )
        assert not blobs.exists(f"srv/db/{record_id[1:]}.sql.zst")
    assert all(records[f"d{d}"].status is BackupStatus.SUCCEEDED for d in range(7))
    again = call(activities.retention.apply_retention, jobs.dump_json(ask))
    assert again["deleted"] == []
    dry = jobs.RetentionInput(database_id="db", now=NOW, dry_run=True)
    rules = {
        d["record_id"]: d["rule"]
        for d in call(activities.retention.apply_retention, jobs.dump_json(dry))["decisions"]
    }
    assert rules["d0"].startswith("kept: newest successful backup, daily 1 of 7")


def serve_webhook(status: int) -> tuple[str, list[dict[str, Any]], Any]:
    received: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}
    server = AsyncExitStack()

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=status)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", receive)
        holder["url"] = await server.enter_async_context(serving(app)) + "/hook"
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(main()), loop.run_forever()))
    thread.start()
    ready.wait(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(server.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return holder["url"], received, stop


def test_notifications_are_posted_as_json_and_refusals_raise_without_the_url() -> None:
    url, received, stop = serve_webhook(204)
    try:
        assert post_json(url, {"event": "backup_failed", "n": 1}) == 204
    finally:
        stop()
    assert received == [{"event": "backup_failed", "n": 1}]
    url, _, stop = serve_webhook(500)
    try:
        with pytest.raises(NotificationFailed) as failure:
            post_json(url + "?token=s3cret", {"event": "x"})
    finally:
        stop()
    assert "500" in str(failure.value) and "s3cret" not in str(failure.value)
    with pytest.raises(NotificationFailed):
        post_json("file:///etc/passwd", {})


def test_the_backup_worker_seam_takes_only_test_doubles() -> None:
    from activities.dump_seam import PipelineWorker, backup_worker

    assert isinstance(backup_worker(None), PipelineWorker)
    assert backup_worker(FAKE_WORKER).dump is not None
    with pytest.raises(ValueError, match="test double"):
        backup_worker("os:system")
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        backup_worker("tests.orchestration.fake_worker")


def dump(activities: Any, prepared: jobs.PreparedBackup) -> Any:
    assert prepared.target is not None
    data = jobs.dump_json(jobs.DumpInput(target=prepared.target))
    return call(activities.backup.dump_database, data)


def test_a_retried_dump_records_when_it_really_started_and_finished(
    scripted: Any, catalog: Catalog
) -> None:
    arrange(catalog)
    prepared = prepare(scripted)
    SCRIPT.reset("transient", "ok")
    before = datetime.now(UTC)
    with pytest.raises(scripted.backup.AttemptFailed, match="Connection refused"):
        dump(scripted, prepared)
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.RUNNING and "Connection refused" in (record.error or "")
    first_start = record.started_at
    assert first_start is not None and before <= first_start <= datetime.now(UTC)
    asyncio.run(asyncio.sleep(1.2))  # the pause between attempts
    second = datetime.now(UTC)
    assert dump(scripted, prepared)["result"]["blob_name"]
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.SUCCEEDED and record.error is None
    # started: the first attempt; finished: the end of the second, not start + its duration
    assert record.started_at == first_start
    assert record.finished_at is not None and second <= record.finished_at <= datetime.now(UTC)


def test_a_dump_committed_before_a_crash_is_recorded_with_the_blob_s_time(
    scripted: Any, catalog: Catalog
) -> None:
    arrange(catalog)
    prepared = prepare(scripted)
    dump(scripted, prepared)  # the first attempt commits ...
    (done,) = catalog.records("db")
    # ... and its host dies before the result is recorded: the record still says running
    catalog.repositories.backups.replace(
        done.model_copy(update={"status": BackupStatus.RUNNING, "finished_at": None})
    )
    asyncio.run(asyncio.sleep(1.2))
    dump(scripted, prepared)  # at-least-once: the activity runs again
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.SUCCEEDED
    assert record.finished_at is not None and record.finished_at <= done.finished_at


def test_a_permanent_failure_is_returned_for_the_orchestration_not_to_retry(
    scripted: Any, catalog: Catalog
) -> None:
    arrange(catalog)
    SCRIPT.reset("permanent")
    outcome = jobs.DumpOutcome.model_validate(dump(scripted, prepare(scripted)))
    assert outcome.result is None and outcome.error
    assert "permission denied for table items" in outcome.error
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.RUNNING and record.error == outcome.error


def hold_a_dump(scripted: Any, catalog: Catalog) -> tuple[threading.Thread, dict[str, Any]]:
    """Starts a dump that holds (in a thread); returns the thread and where its result goes."""
    arrange(catalog)
    prepared = prepare(scripted)
    SCRIPT.reset("hold")
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(dump(scripted, prepared)))
    thread.start()
    assert SCRIPT.dumping.wait(10)
    return thread, result


def test_a_record_cancelled_while_its_dump_runs_stops_the_dump_and_stays_cancelled(
    scripted: Any, catalog: Catalog
) -> None:
    thread, result = hold_a_dump(scripted, catalog)
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.RUNNING
    cancelled = {"status": BackupStatus.CANCELLED, "error": "cancelled through the API"}
    _, changed = catalog.repositories.backups.update_unless_final(record, cancelled)
    assert changed
    thread.join(15)
    assert not thread.is_alive(), "the dump did not stop"
    assert result["error"] == "not dumped: cancelled through the API"
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.CANCELLED and record.blob_name is None
    assert blob_names(catalog.env["BACKUP_CONTAINER"]) == set()


def test_a_dump_that_commits_after_its_record_was_settled_leaves_no_blob(
    scripted: Any, catalog: Catalog
) -> None:
    thread, result = hold_a_dump(scripted, catalog)
    (record,) = catalog.records("db")
    settled = {"status": BackupStatus.FAILED, "error": "not finished: its job was terminated"}
    catalog.repositories.backups.update_unless_final(record, settled)
    SCRIPT.released.set()  # the dump commits before the watch notices
    thread.join(15)
    assert result["error"] == "not dumped: not finished: its job was terminated"
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.FAILED and record.blob_name is None
    assert blob_names(catalog.env["BACKUP_CONTAINER"]) == set()


def test_the_record_watch_writes_progress_and_never_undoes_a_cancel(
    activities: Any, catalog: Catalog
) -> None:
    from activities.backup_records import RecordWatch
    from activities.wiring import services

    arrange(catalog)
    prepare(activities)
    (record,) = catalog.records("db")
    backups = catalog.repositories.backups
    record, _ = backups.update_unless_final(record, {"status": BackupStatus.RUNNING})
    with RecordWatch(services(), record, poll_seconds=0.05, write_seconds=0.1) as watch:
        watch.progress(1000, 400)
        deadline = time.monotonic() + 10
        while backups.current(record).raw_bytes != 1000:
            assert time.monotonic() < deadline, "progress not written"
            time.sleep(0.05)
        backups.update_unless_final(record, {"status": BackupStatus.CANCELLED})
        watch.progress(2000, 800)  # the next write would come after the cancel
        assert watch.cancel.wait(10)
    stored = backups.current(record)
    assert stored.status is BackupStatus.CANCELLED and stored.raw_bytes == 1000
