"""A backup and the key it is encrypted to: the key is named on the record as the dump
starts, and a key retired (crypto-shredded) while the dump ran fails the backup instead of
leaving a successful backup nobody can read. Activities called directly, on Azurite."""

from __future__ import annotations

from typing import Any

from shared import jobs
from shared.models import BackupStatus
from tests.orchestration.conftest import Catalog, blob_names
from tests.orchestration.fake_worker import SCRIPTED_WORKER as SCRIPT
from tests.orchestration.test_activities import hold_a_dump, scripted

__all__ = ["scripted"]  # a fixture used here


def test_a_key_retired_while_its_backup_runs_fails_the_backup(
    scripted: Any, catalog: Catalog
) -> None:
    from activities.wiring import services

    thread, result = hold_a_dump(scripted, catalog)
    keys = services().keys
    key = keys.current()
    (record,) = catalog.records("db")
    # named as the dump starts, so a retirement can see the backups still running under it
    assert record.status is BackupStatus.RUNNING
    assert record.identity_id == key.id

    keys.rotate()
    keys.retire(key.id)  # the API refuses this now (a running backup names the key)
    SCRIPT.released.set()
    thread.join(15)
    outcome = jobs.DumpOutcome.model_validate(result)
    assert outcome.result is None and outcome.error is not None
    assert f"key {key.id} was retired while the backup ran" in outcome.error
    (record,) = catalog.records("db")
    assert record.status is not BackupStatus.SUCCEEDED and record.error == outcome.error
    assert blob_names(catalog.env["BACKUP_CONTAINER"]) == set()  # unreadable: not kept
