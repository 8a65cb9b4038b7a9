"""A blob archived after the API let a verify or restore job start (by a lifecycle rule,
by hand) is reported by the job itself as 'rehydrate first', not as a broken backup.
Activities called directly, on Azurite (which implements the Archive tier)."""

from __future__ import annotations

from typing import Any

from shared import jobs
from shared.storage.blobs import AzureBlobStore
from tests.orchestration.conftest import Catalog
from tests.orchestration.test_activities import activities, arrange, call, dump, prepare

__all__ = ["activities"]  # a fixture used here


def test_verify_and_restore_of_a_blob_archived_meanwhile_say_rehydrate_first(
    activities: Any, catalog: Catalog
) -> None:
    import activities.verify_restore as verify_restore

    arrange(catalog)
    result = dump(activities, prepare(activities))["result"]
    store = AzureBlobStore.from_connection_string(
        catalog.env["BACKUP_STORAGE_CONNECTION_STRING"], catalog.env["BACKUP_CONTAINER"]
    )
    store.set_access_tier(result["blob_name"], "archive")

    ask = jobs.VerifyJob(database_id="db", backup_id="rec-1")
    verified = jobs.VerifyOutput.model_validate(
        call(verify_restore.run_verify, jobs.dump_json(ask))
    )
    assert verified.ok is False and verified.error is not None
    assert "Archive tier: rehydrate it first" in verified.error, verified.error
    restore = jobs.RestoreJob(database_id="db", backup_id="rec-1", target_database="nowhere")
    restored = jobs.RestoreOutput.model_validate(
        call(verify_restore.run_restore, jobs.dump_json(restore))
    )
    assert restored.ok is False and restored.error is not None
    assert "Archive tier: rehydrate it first" in restored.error, restored.error
