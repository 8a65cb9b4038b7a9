"""Blob and Table service clients, built once per process from the settings.

Development (Azurite) uses the connection string; on Azure only the account name is
set and the Function App's managed identity signs in through DefaultAzureCredential.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, ExponentialRetry

from shared.settings import Settings

# Downloads in 8 MiB GETs: Azurite spends about twice the CPU per byte on 4 MiB ones (its
# own, on the cores a restore shares with it: 0.8-1.1 s against 0.47 s per 100 MB stored,
# bench/pipeline.py), and on Azure every GET is a billed transaction with its own round
# trip. 16 MiB saved no more and, two ranges ahead, cost a restore 50 MB more peak RSS.
DEFAULT_READ_CHUNK = 8 * 1024 * 1024

_lock = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}
_credential: Any = None


def default_credential() -> Any:
    """One DefaultAzureCredential per process: it caches tokens across clients."""
    global _credential
    if _credential is None:
        from azure.identity import DefaultAzureCredential

        _credential = DefaultAzureCredential()
    return _credential


def _cache_key(kind: str, settings: Settings) -> tuple[str, str]:
    secret = settings.backup_storage_connection_string
    if secret is not None:
        return kind, secret.get_secret_value()
    return kind, f"account:{settings.backup_storage_account_name}"


def blob_client_options(**overrides: Any) -> dict[str, Any]:
    """Bounded retries: an unreachable account fails within about a minute, not ten.
    Every BlobServiceClient we build gets these; `overrides` replace single options."""
    options: dict[str, Any] = {
        "retry_policy": ExponentialRetry(initial_backoff=2, increment_base=2, retry_total=3),
        "connection_timeout": 20,
        "read_timeout": 120,
        # Downloads stream in 8 MiB ranges (the SDK's first range is otherwise 32 MiB).
        "max_single_get_size": DEFAULT_READ_CHUNK,
        "max_chunk_get_size": DEFAULT_READ_CHUNK,
    }
    options.update(overrides)
    return options


def _build_blob(settings: Settings) -> BlobServiceClient:
    secret = settings.backup_storage_connection_string
    if secret is not None:
        return BlobServiceClient.from_connection_string(
            secret.get_secret_value(), **blob_client_options()
        )
    account = settings.backup_storage_account_name
    return BlobServiceClient(
        f"https://{account}.blob.core.windows.net", default_credential(), **blob_client_options()
    )


def _build_table(settings: Settings) -> TableServiceClient:
    secret = settings.backup_storage_connection_string
    if secret is not None:
        return TableServiceClient.from_connection_string(secret.get_secret_value())
    account = settings.backup_storage_account_name
    return TableServiceClient(
        endpoint=f"https://{account}.table.core.windows.net", credential=default_credential()
    )


def blob_service_client(settings: Settings) -> BlobServiceClient:
    """The process's BlobServiceClient for this storage account."""
    client: BlobServiceClient = _cached("blob", settings, _build_blob)
    return client


def table_service_client(settings: Settings) -> TableServiceClient:
    """The process's TableServiceClient for this storage account."""
    client: TableServiceClient = _cached("table", settings, _build_table)
    return client


def _cached(kind: str, settings: Settings, build: Callable[[Settings], Any]) -> Any:
    key = _cache_key(kind, settings)
    with _lock:
        if key not in _clients:
            _clients[key] = build(settings)
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests point settings at other accounts)."""
    with _lock:
        _clients.clear()
