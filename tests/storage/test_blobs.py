"""The Azure blob store's housekeeping calls (how many requests they make) and its reads
(ranges downloaded ahead of the reader, never further than READ_AHEAD)."""

from __future__ import annotations

import os
import time

import pytest
from azure.storage.blob import BlobServiceClient

from shared.storage import blobs
from shared.storage.blobs import AzureBlobStore, BlobAlreadyExists, BlobNotFound, BlobStoreError


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


RANGE = 64 * 1024  # small ranges: the read-ahead is seen on a small blob


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(blobs, "READ_RANGE", RANGE)
    return RANGE


def _settled(sent: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """The requests once `count` were sent (or 5 s passed) and no more came for 0.3 s."""
    deadline = time.monotonic() + 5
    while len(sent) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    return list(sent)


def test_a_read_downloads_ranges_ahead_of_its_reader_and_no_further(
    storage_connection_string: str, blob_container: str, small_ranges: int
) -> None:
    sent: list[tuple[str, str]] = []
    store = AzureBlobStore.from_connection_string(
        storage_connection_string,
        blob_container,
        raw_request_hook=lambda r: sent.append(
            (r.http_request.method, r.http_request.headers.get("x-ms-range", ""))
        ),
    )
    data = os.urandom(10 * small_ranges + 123)
    store.upload("a/b.sql.zst", data)
    sent.clear()
    chunks = store.read_chunks("a/b.sql.zst")
    first = next(chunks)
    # While the reader holds the first range, the next READ_AHEAD are on their way: one
    # look at the blob, then range requests, never more than that ahead of the reader.
    ahead = _settled(sent, 2 + blobs.READ_AHEAD)
    assert ahead[0] == ("HEAD", "")
    assert sorted(ahead[1:]) == sorted(
        ("GET", f"bytes={i * small_ranges}-{(i + 1) * small_ranges - 1}")
        for i in range(1 + blobs.READ_AHEAD)
    )
    rest = list(chunks)
    assert b"".join([first, *rest]) == data
    assert [len(c) for c in [first, *rest]] == [small_ranges] * 10 + [123]
    assert len(sent) == 1 + 11  # every range read once


def test_a_blob_changed_while_it_is_read_fails_the_read(
    storage_connection_string: str, blob_container: str, small_ranges: int
) -> None:
    store = AzureBlobStore.from_connection_string(storage_connection_string, blob_container)
    store.upload("a/b.sql.zst", os.urandom(10 * small_ranges))
    chunks = store.read_chunks("a/b.sql.zst")
    next(chunks)
    service = BlobServiceClient.from_connection_string(storage_connection_string)
    blob = service.get_blob_client(blob_container, "a/b.sql.zst")
    blob.upload_blob(os.urandom(10 * small_ranges), overwrite=True)
    with pytest.raises(BlobStoreError, match="changed while it was read") as err:
        list(chunks)
    assert not isinstance(err.value, BlobAlreadyExists)


def test_an_empty_blob_reads_as_no_chunks_and_a_missing_one_as_missing(
    watched_store: tuple[AzureBlobStore, list[str]],
) -> None:
    store, _ = watched_store
    store.upload("a/empty.sql.zst", b"")
    assert list(store.read_chunks("a/empty.sql.zst")) == []
    with pytest.raises(BlobNotFound):
        list(store.read_chunks("a/missing.sql.zst"))
