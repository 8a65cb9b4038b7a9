"""Service clients: one per process and account; connection string or managed identity."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import load_settings
from shared.storage import Repositories, blob_service_client, table_service_client
from shared.storage.clients import reset_clients


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    reset_clients()
    yield
    reset_clients()


def test_clients_are_cached_per_account(storage_connection_string: str) -> None:
    settings = load_settings(
        backup_storage_connection_string=storage_connection_string, secret_store="local"
    )
    assert table_service_client(settings) is table_service_client(settings)
    assert blob_service_client(settings) is blob_service_client(settings)
    assert table_service_client(settings).url.startswith("http://127.0.0.1:")


def test_account_name_uses_the_public_endpoints() -> None:
    settings = load_settings(
        backup_storage_account_name="prodbackups",
        key_vault_url="https://dilux.vault.azure.net",
        backup_storage_connection_string=None,
    )
    blob = blob_service_client(settings)
    table = table_service_client(settings)
    assert blob.url == "https://prodbackups.blob.core.windows.net/"
    assert table.url.startswith("https://prodbackups.table.core.windows.net")
    assert type(blob.credential).__name__ == "DefaultAzureCredential"


def test_repositories_from_settings_use_the_prefix(
    storage_connection_string: str, table_prefix: str
) -> None:
    settings = load_settings(
        backup_storage_connection_string=storage_connection_string,
        secret_store="local",
        table_prefix=table_prefix,
    )
    repos = Repositories.from_settings(settings)
    service = table_service_client(settings)
    try:
        assert repos.servers.get("nothing") is None
        names = {t.name for t in service.list_tables() if t.name.startswith(table_prefix)}
        assert names == {f"{table_prefix}servers"}
    finally:
        for table in list(service.list_tables()):
            if table.name.startswith(table_prefix):
                service.delete_table(table.name)


@pytest.mark.parametrize("by", ["connection string", "account name"])
def test_blob_clients_have_bounded_retries_timeouts_and_reads(
    storage_connection_string: str, by: str
) -> None:
    """backup_store(settings) (production) and AzureBlobStore.from_connection_string build
    their service clients with the same options."""
    from shared.storage.blobs import AzureBlobStore, backup_store
    from shared.storage.clients import DEFAULT_READ_CHUNK

    if by == "connection string":
        settings = load_settings(
            backup_storage_connection_string=storage_connection_string, secret_store="local"
        )
    else:
        settings = load_settings(
            backup_storage_account_name="prodbackups",
            key_vault_url="https://dilux.vault.azure.net",
            backup_storage_connection_string=None,
        )
    production = backup_store(settings)._container
    direct = AzureBlobStore.from_connection_string(storage_connection_string, "c")._container
    for client in (production, direct):
        config = client._config
        retry = config.retry_policy
        assert (retry.total_retries, retry.initial_backoff, retry.increment_base) == (3, 2, 2)
        assert config.max_single_get_size == config.max_chunk_get_size == DEFAULT_READ_CHUNK
        connection = client._config.transport.connection_config
        assert (connection.timeout, connection.read_timeout) == (20, 120)
    overridden = AzureBlobStore.from_connection_string(
        storage_connection_string, "c", connection_timeout=2
    )._container
    assert overridden._config.transport.connection_config.timeout == 2
    assert overridden._config.retry_policy.total_retries == 3
