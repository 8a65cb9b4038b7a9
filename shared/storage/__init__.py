"""Table Storage repositories and the storage clients they stand on."""

from shared.storage.audit import AuditRepository
from shared.storage.backup_records import BackupRecordRepository
from shared.storage.catalog import DatabaseRepository, PolicyRepository, ServerRepository
from shared.storage.clients import blob_service_client, table_service_client
from shared.storage.codec import SecretFieldError
from shared.storage.repositories import Repositories
from shared.storage.tables import (
    AlreadyExists,
    ConcurrencyConflict,
    InvalidContinuation,
    NotFound,
    Page,
    StorageError,
)

__all__ = [
    "AlreadyExists",
    "AuditRepository",
    "BackupRecordRepository",
    "ConcurrencyConflict",
    "DatabaseRepository",
    "InvalidContinuation",
    "NotFound",
    "Page",
    "PolicyRepository",
    "Repositories",
    "SecretFieldError",
    "ServerRepository",
    "StorageError",
    "blob_service_client",
    "table_service_client",
]
