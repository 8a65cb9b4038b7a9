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
