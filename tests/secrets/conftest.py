"""Secret stores on real backends: an Azurite table, and the Key Vault stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from shared.secrets.keyvault import KeyVaultSecretStore
from shared.secrets.local import LocalSecretStore
from tests.secrets.keyvault_standin import FakeCredential, KeyVaultStandIn


@pytest.fixture
def table_service(storage_connection_string: str) -> Iterator[TableServiceClient]:
    service = TableServiceClient.from_connection_string(storage_connection_string)
    yield service


@pytest.fixture
def local_store(table_service: TableServiceClient, table_prefix: str) -> Iterator[LocalSecretStore]:
    yield LocalSecretStore(table_service, table_prefix, os.urandom(32))
    for table in list(table_service.list_tables()):
        if table.name.startswith(table_prefix):
            table_service.delete_table(table.name)


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[KeyVaultStandIn]:
    with KeyVaultStandIn(tmp_path) as vault:
        yield vault


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def vault_store(standin: KeyVaultStandIn, credential: FakeCredential) -> KeyVaultSecretStore:
    # The stand-in lives on localhost, which can never match the challenge's resource
    # domain (vault.azure.net); everything else about the challenge is exercised.
    return KeyVaultSecretStore(
        standin.url,
        credential,
        connection_verify=str(standin.ca_file),
        verify_challenge_resource=False,
    )
