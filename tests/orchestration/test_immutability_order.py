"""A backup blob is made immutable only after its record is final and successful.

A locked version-level immutability policy cannot be removed or shortened, so a blob locked
at commit by a backup that was then cancelled or settled as failed could be deleted by
nobody and described by no record. These tests run the backup activities on the real
Azurite tables, with the blobs on tests/storage/blob_standin.py (Azurite implements no
immutability policies): the stand-in refuses to delete a blob under a policy, as Azure does.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import ExponentialRetry

from shared import jobs
from shared.models import BackupStatus, Database, Tier
from shared.seed_policies import seeded_policy
from shared.storage.blobs import AzureBlobStore
from tests.orchestration.conftest import Catalog, pg_server
from tests.orchestration.fake_worker import SCRIPTED_WORKER as SCRIPT
from tests.orchestration.test_activities import call, dump, scripted

__all__ = ["scripted"]  # a fixture used here
from tests.storage.blob_standin import BlobStandIn, blob_standin

# A recent slot: a daily kept 7 days from now is protected until a future date.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def standin() -> BlobStandIn:
    with blob_standin() as state:
        yield state


@pytest.fixture
def protected(
    scripted: Any, catalog: Catalog, standin: BlobStandIn, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The backup and settlement activities with IMMUTABILITY on, daily backups immutable
    and the blob store on the stand-in (tables stay on Azurite)."""
    from activities import settlement
    from activities.wiring import Services, services

    real = services()
    settings = real.settings.model_copy(update={"immutability": True})
    store = AzureBlobStore.from_connection_string(
        standin.connection_string(), "backups",
        retry_policy=ExponentialRetry(initial_backoff=0, increment_base=1, retry_total=0),
    )  # fmt: skip
    here = Services(settings=settings, repositories=real.repositories, blobs=store)
    monkeypatch.setattr(scripted.backup, "services", lambda: here)
    monkeypatch.setattr(settlement, "services", lambda: here)
    policy = seeded_policy("development").model_copy(update={"immutable_tiers": [Tier.DAILY]})
    repositories = catalog.repositories
    repositories.policies.upsert(policy)
    repositories.servers.upsert(pg_server("srv", default_policy_id=policy.id))
    repositories.databases.upsert(Database(id="db", server_id="srv", name="d"))
    return scripted


def prepare(activities: Any, slot: datetime = NOW) -> jobs.PreparedBackup:
    job = jobs.BackupJob(database_id="db", slot_time=slot, tiers=[Tier.DAILY])
    ask = jobs.PrepareBackupInput(job=job, record_id="rec-1", instance_id="job-1", now=slot)
    return jobs.PreparedBackup.model_validate(
        call(activities.backup.prepare_backup, jobs.dump_json(ask))
    )


def settle(activities: Any) -> None:
    from activities.settlement import settle_record

    job = jobs.SettleJob(
        database_id="db", record_id="rec-1", reason="not finished: its job was terminated"
    )
    call(settle_record, jobs.dump_json(job))


def test_a_successful_backup_is_committed_plain_then_locked_once_recorded(
    protected: Any, catalog: Catalog, standin: BlobStandIn
) -> None:
    outcome = dump(protected, prepare(protected))
    name = outcome["result"]["blob_name"]
    # The commit itself carries no policy: it is set by a request of its own afterwards.
    [commit] = standin.sent("blocklist")
    assert not [h for h in commit.headers if "immutability" in h]
    [policy] = standin.sent("immutabilityPolicies")
    assert policy.headers["x-ms-immutability-policy-mode"] == "Locked"
    until = NOW + timedelta(days=7)
    assert standin.blobs[name].immutable_until == until
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.SUCCEEDED and record.immutable_until == until
    # A re-run (at-least-once delivery) neither fails nor sends the policy again.
    dump(protected, prepare(protected))
    assert len(standin.sent("immutabilityPolicies")) == 1


def test_a_dump_committing_after_its_record_was_settled_leaves_no_locked_blob(
    protected: Any, catalog: Catalog, standin: BlobStandIn
) -> None:
    prepared = prepare(protected)
    SCRIPT.reset("hold")
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(dump(protected, prepared)))
    thread.start()
    assert SCRIPT.dumping.wait(10)
    (record,) = catalog.records("db")
    failed = {"status": BackupStatus.FAILED, "error": "not finished: its job was terminated"}
    catalog.repositories.backups.update_unless_final(record, failed)
    SCRIPT.released.set()  # the dump commits before its watch notices the settlement
    thread.join(15)
    assert result.get("error") == "not dumped: not finished: its job was terminated", result
    assert standin.blobs == {}  # deleted: it was never locked
    assert standin.sent("immutabilityPolicies") == []
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.FAILED and record.blob_name is None


def test_a_blob_committed_before_its_job_died_is_deleted_by_the_settlement(
    protected: Any, catalog: Catalog, standin: BlobStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = prepare(protected)

    def host_dies(*_: Any, **__: Any) -> Any:
        raise SystemExit("the host died after the commit, before the record was written")

    monkeypatch.setattr(protected.backup, "_succeeded", host_dies)
    with pytest.raises(SystemExit):
        dump(protected, prepared)
    assert len(standin.blobs) == 1  # committed, not recorded
    settle(protected)
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.FAILED
    assert standin.blobs == {}, "a blob no record describes was left behind"
    assert standin.sent("immutabilityPolicies") == []


def test_a_locked_blob_the_settlement_cannot_delete_is_adopted_by_the_record(
    protected: Any, catalog: Catalog, standin: BlobStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob locked at commit (as an older version of the app did) by a job that died."""
    from shared.storage.blobs import BlobPlacement

    prepared = prepare(protected)
    until = NOW + timedelta(days=7)
    locked = BlobPlacement(immutable_until=until)
    monkeypatch.setattr(protected.backup, "replace", lambda placement, **_: locked)

    def host_dies(*_: Any, **__: Any) -> Any:
        raise SystemExit("the host died after the commit, before the record was written")

    monkeypatch.setattr(protected.backup, "_succeeded", host_dies)
    with pytest.raises(SystemExit):
        dump(protected, prepared)
    [name] = standin.blobs
    settle(protected)
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.FAILED and record.blob_name == name
    assert record.immutable_until == until
    assert record.error is not None and "its blob stays: immutable until" in record.error


def test_a_container_without_immutability_support_fails_the_backup_for_good(
    protected: Any, catalog: Catalog, standin: BlobStandIn
) -> None:
    standin.versioning_immutability = False
    outcome = jobs.DumpOutcome.model_validate(dump(protected, prepare(protected)))
    # returned, not raised: the orchestration does not retry it
    assert outcome.result is None and outcome.error is not None
    assert "StorageFeatureMissing" in outcome.error and "IMMUTABILITY=off" in outcome.error
    assert standin.blobs == {} and standin.sent("block") == []  # nothing was dumped
    (record,) = catalog.records("db")
    assert record.error == outcome.error


def test_a_protection_date_already_past_is_not_set(
    protected: Any, catalog: Catalog, standin: BlobStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.versioning_immutability = False  # not even asked: nothing to protect
    slot = NOW - timedelta(days=30)  # a late run of an old slot: kept 7 days, i.e. until past
    outcome = dump(protected, prepare(protected, slot))
    assert outcome["result"]["blob_name"]
    assert standin.sent("immutabilityPolicies") == []
    (record,) = catalog.records("db")
    assert record.status is BackupStatus.SUCCEEDED and record.immutable_until is None
    assert "not made immutable: its tiers keep it only until" in caplog.text
