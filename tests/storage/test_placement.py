"""Access tiers, immutability policies and legal holds on backup blobs.

Azurite 3.35 stores access tiers (Archive included: a read of an archived blob is refused)
but implements no immutability policies or legal holds: it answers 501 to Set Blob Legal
Hold and silently ignores the immutability headers of Put Block List. Those run here against
Azurite (to prove we notice) and against tests/storage/blob_standin.py, which checks the
requests the real SDK sends. What Azure itself does with them is unverified here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from azure.storage.blob import ExponentialRetry

from shared.storage.blobs import (
    AzureBlobStore,
    BlobArchived,
    BlobPlacement,
    BlobProtected,
    StorageFeatureMissing,
    block_id,
)
from tests.storage.blob_standin import BlobStandIn, blob_standin

NO_RETRY = ExponentialRetry(initial_backoff=0, increment_base=1, retry_total=0)
UNTIL = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)


@pytest.fixture
def standin() -> BlobStandIn:
    with blob_standin() as state:
        yield state


def store_on(connection_string: str, container: str = "backups") -> AzureBlobStore:
    return AzureBlobStore.from_connection_string(
        connection_string, container, retry_policy=NO_RETRY
    )


def commit(store: AzureBlobStore, name: str, placement: BlobPlacement | None) -> None:
    store.stage_block(name, block_id(0), b"age-encryption.org/v1\n...")
    store.commit_blocks(name, [block_id(0)], metadata={"key_id": "k1"}, placement=placement)


def test_a_placement_travels_on_the_commit_and_is_confirmed(standin: BlobStandIn) -> None:
    store = store_on(standin.connection_string())
    placement = BlobPlacement(access_tier="cool", immutable_until=UNTIL)
    commit(store, "srv/db/a.sql.zst.age", placement)
    [sent] = standin.sent("blocklist")
    assert sent.headers["if-none-match"] == "*"
    assert sent.headers["x-ms-access-tier"] == "Cool"
    assert sent.headers["x-ms-immutability-policy-mode"] == "Locked"
    assert parsedate_to_datetime(sent.headers["x-ms-immutability-policy-until-date"]) == UNTIL
    assert "x-ms-legal-hold" not in sent.headers
    # The commit is read back: a storage ignoring the headers would be caught.
    assert [r.method for r in standin.requests[-1:]] == ["HEAD"]
    info = store.info("srv/db/a.sql.zst.age")
    assert (info.access_tier, info.immutable_until, info.legal_hold) == ("cool", UNTIL, False)


def test_an_unlocked_policy_says_so(standin: BlobStandIn) -> None:
    store = store_on(standin.connection_string())
    commit(store, "b", BlobPlacement(immutable_until=UNTIL, immutability_locked=False))
    assert standin.sent("blocklist")[0].headers["x-ms-immutability-policy-mode"] == "Unlocked"


def test_no_placement_sends_no_protection_headers(standin: BlobStandIn) -> None:
    store = store_on(standin.connection_string())
    commit(store, "plain", None)
    headers = standin.sent("blocklist")[0].headers
    assert not [h for h in headers if "immutability" in h or h == "x-ms-access-tier"]
    assert [r.method for r in standin.requests] == ["PUT", "PUT"]  # no read-back


def test_a_protected_blob_refuses_deletion_with_our_error(standin: BlobStandIn) -> None:
    store = store_on(standin.connection_string())
    commit(store, "kept", BlobPlacement(immutable_until=UNTIL))
    with pytest.raises(BlobProtected, match="BlobImmutableDueToPolicy"):
        store.delete("kept")


def test_a_legal_hold_is_set_and_cleared(standin: BlobStandIn) -> None:
    store = store_on(standin.connection_string())
    commit(store, "held", None)
    store.set_legal_hold("held", True)
    assert standin.sent("legalhold")[0].headers["x-ms-legal-hold"] == "true"
    assert store.info("held").legal_hold
    with pytest.raises(BlobProtected, match="LegalHold"):
        store.delete("held")
    store.set_legal_hold("held", False)
    assert standin.sent("legalhold")[1].headers["x-ms-legal-hold"] == "false"
    assert not store.info("held").legal_hold
    store.delete("held")


# --- against Azurite ---------------------------------------------------------------------


def test_azurite_ignores_the_policy_so_the_commit_fails_and_leaves_no_blob(
    storage_connection_string: str, blob_container: str
) -> None:
    store = store_on(storage_connection_string, blob_container)
    with pytest.raises(StorageFeatureMissing, match="IMMUTABILITY=off"):
        commit(store, "srv/db/monthly.sql.zst.age", BlobPlacement(immutable_until=UNTIL))
    assert not store.exists("srv/db/monthly.sql.zst.age")


def test_azurite_refuses_a_legal_hold_loudly(
    storage_connection_string: str, blob_container: str
) -> None:
    store = store_on(storage_connection_string, blob_container)
    commit(store, "x", None)
    with pytest.raises(StorageFeatureMissing, match="legal hold"):
        store.set_legal_hold("x", True)


def test_access_tiers_at_commit_and_an_archived_blob_explains_itself(
    storage_connection_string: str, blob_container: str
) -> None:
    store = store_on(storage_connection_string, blob_container)
    commit(store, "cold", BlobPlacement(access_tier="cold"))
    assert store.info("cold").access_tier == "cold"
    store.set_access_tier("cold", "archive")
    info = store.info("cold")
    assert info.archived
    with pytest.raises(BlobArchived, match="rehydrate"):
        b"".join(store.read_chunks("cold"))


def test_a_commit_the_storage_does_not_implement_fails_the_backup_for_good(
    standin: BlobStandIn,
) -> None:
    """StorageFeatureMissing is not a passing problem: the backup fails without retries."""
    from shared.failures import is_permanent
    from shared.pipeline.dump import _commit
    from shared.pipeline.results import BackupFailed

    store = store_on(standin.connection_string())
    store.stage_block("n", block_id(0), b"x")
    standin.not_implemented.add("blocklist")
    with pytest.raises(BackupFailed) as caught:
        _commit(store, "n", [block_id(0)], {}, "db", {}, BlobPlacement(access_tier="cold"))
    failure = caught.value
    assert "does not implement" in failure.message
    assert is_permanent(failure.reason, failure.message)


def test_the_container_says_whether_it_can_protect_blobs(
    standin: BlobStandIn, storage_connection_string: str, blob_container: str
) -> None:
    """Read before a backup of an immutable tier dumps: without it the backup fails for good."""
    assert store_on(standin.connection_string()).supports_immutability() is True
    standin.versioning_immutability = False
    assert store_on(standin.connection_string()).supports_immutability() is False
    azurite = store_on(storage_connection_string, blob_container)
    azurite.create_container()
    assert azurite.supports_immutability() is False  # Azurite 3.35 implements none


def test_a_policy_is_set_after_the_commit_and_azurite_refuses_it_loudly(
    standin: BlobStandIn, storage_connection_string: str, blob_container: str
) -> None:
    store = store_on(standin.connection_string())
    commit(store, "later", None)
    store.set_immutability("later", UNTIL)
    [sent] = standin.sent("immutabilityPolicies")
    assert sent.headers["x-ms-immutability-policy-mode"] == "Locked"
    assert store.info("later").immutable_until == UNTIL
    with pytest.raises(BlobProtected):
        store.delete("later")
    azurite = store_on(storage_connection_string, blob_container)
    commit(azurite, "later", None)
    with pytest.raises(StorageFeatureMissing, match="immutability policy"):
        azurite.set_immutability("later", UNTIL)
