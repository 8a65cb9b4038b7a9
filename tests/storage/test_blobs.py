"""The Azure blob store's housekeeping calls: how many requests they make."""

from __future__ import annotations

import pytest

from shared.storage.blobs import AzureBlobStore, BlobNotFound


@pytest.fixture
def watched_store(
    storage_connection_string: str, blob_container: str
) -> tuple[AzureBlobStore, list[str]]:
    sent: list[str] = []
    store = AzureBlobStore.from_connection_string(
        storage_connection_string,
        blob_container,
        raw_request_hook=lambda r: sent.append(r.http_request.method),
    )
    return store, sent


def test_info_reads_tags_only_when_asked(
    watched_store: tuple[AzureBlobStore, list[str]],
) -> None:
    store, sent = watched_store
    store.upload("a/b.sql.zst", b"12345", metadata={"sha256": "abc"})
    store.set_tags("a/b.sql.zst", {"record_id": "r1"})
    sent.clear()
    info = store.info("a/b.sql.zst")
    assert (info.name, info.size, info.metadata) == ("a/b.sql.zst", 5, {"sha256": "abc"})
    assert info.tags == {}
    assert sent == ["HEAD"]
    sent.clear()
    assert store.info("a/b.sql.zst", with_tags=True).tags == {"record_id": "r1"}
    assert sent == ["HEAD", "GET"]
    sent.clear()
    with pytest.raises(BlobNotFound):
        store.info("a/missing.sql.zst")
    with pytest.raises(BlobNotFound):
        store.info("a/missing.sql.zst", with_tags=True)
    assert sent == ["HEAD", "HEAD"]
