"""Repositories on fresh, uniquely prefixed tables in Azurite, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.data.tables import TableServiceClient

from shared.storage import Repositories


@pytest.fixture
def table_service(storage_connection_string: str) -> TableServiceClient:
    return TableServiceClient.from_connection_string(storage_connection_string)


@pytest.fixture
def repos(table_service: TableServiceClient, table_prefix: str) -> Iterator[Repositories]:
    yield Repositories(table_service, table_prefix)
    for table in list(table_service.list_tables()):
        if table.name.startswith(table_prefix):
            table_service.delete_table(table.name)
