"""The product creates its container and tables itself, once per process, and never takes
a missing container or table for a missing blob or entity."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from shared.models import Engine, Server
from shared.storage import Repositories
from shared.storage.blobs import AzureBlobStore, BlobNotFound, ContainerNotFound
from shared.storage.clients import blob_client_options
from tests.conftest import unique_name


@pytest.fixture
def service(storage_connection_string: str) -> Iterator[tuple[BlobServiceClient, list[str]]]:
    """A blob service client that notes every request it sends as `METHOD path?query`."""
    sent: list[str] = []

    def note(request: object) -> None:
        http = request.http_request  # type: ignore[attr-defined]
        sent.append(f"{http.method} {http.url.split('/devstoreaccount1/', 1)[1]}")

    client = BlobServiceClient.from_connection_string(
        storage_connection_string, **blob_client_options(raw_request_hook=note)
    )
    yield client, sent


@pytest.fixture
def fresh_container(service: tuple[BlobServiceClient, list[str]]) -> Iterator[str]:
    """A container name nothing has created; deleted afterwards if something did."""
    name = unique_name("fresh-")
    yield name
    client = service[0].get_container_client(name)
    if client.exists():
        client.delete_container()


def test_the_backup_store_creates_its_container_once_per_process(
    service: tuple[BlobServiceClient, list[str]], fresh_container: str
) -> None:
    client, sent = service
    store = AzureBlobStore(client.get_container_client(fresh_container), create_container=True)
    with pytest.raises(BlobNotFound):
        store.info("a/first.sql.zst")  # the container exists now; the blob does not
    store.upload("a/first.sql.zst", b"123")
    # A second store on the same container (another activity) creates nothing again.
    again = AzureBlobStore(client.get_container_client(fresh_container), create_container=True)
    assert again.info("a/first.sql.zst").size == 3
    creates = [line for line in sent if line.endswith("restype=container")]
    assert creates == [f"PUT {fresh_container}?restype=container"]
    assert len(sent) == 4  # create, HEAD, PUT blob, HEAD: nothing per call


def test_a_missing_container_is_reported_as_such_never_as_a_missing_blob(
    storage_connection_string: str, fresh_container: str
) -> None:
    store = AzureBlobStore.from_connection_string(storage_connection_string, fresh_container)
    with pytest.raises(ContainerNotFound, match=f"container '{fresh_container}' does not exist"):
        store.info("a/b.sql.zst")
    with pytest.raises(ContainerNotFound):
        store.stage_block("a/b.sql.zst", "YmxvY2s=", b"data")
    with pytest.raises(ContainerNotFound):
        list(store.read_chunks("a/b.sql.zst"))
    assert not issubclass(ContainerNotFound, BlobNotFound)


def test_a_container_deleted_under_a_running_process_is_named_then_created_again(
    service: tuple[BlobServiceClient, list[str]], fresh_container: str
) -> None:
    client, _ = service
    store = AzureBlobStore(client.get_container_client(fresh_container), create_container=True)
    store.upload("one", b"1")
    client.delete_container(fresh_container)
    with pytest.raises(ContainerNotFound):
        store.upload("two", b"2")
    # Azurite deletes at once; Azure may answer ContainerBeingDeleted for a while, and the
    # upload then fails as a storage error and the next attempt tries again.
    store.upload("two", b"2")
    assert store.info("two").size == 1


def test_tables_are_created_on_first_use_and_again_when_deleted(
    storage_connection_string: str,
) -> None:
    service = TableServiceClient.from_connection_string(storage_connection_string)
    prefix = unique_name("t")
    repos = Repositories(service, prefix)
    server = Server(
        id="s1", name="s1", engine=Engine.POSTGRESQL, host="db", port=5432, username="u"
    )
    try:
        assert repos.servers.get("s1") is None
        repos.servers.upsert(server)
        service.delete_table(f"{prefix}servers")
        # The process created the table before; it is gone: not "no such server" for ever.
        assert repos.servers.get("s1") is None
        repos.servers.upsert(server)
        assert repos.servers.get("s1") is not None
        service.delete_table(f"{prefix}servers")
        assert list(repos.servers.all()) == []
        repos.servers.upsert(server)
        assert [found.id for found in repos.servers.all()] == ["s1"]
    finally:
        for table in list(service.list_tables()):
            if table.name.startswith(prefix):
                service.delete_table(table.name)
