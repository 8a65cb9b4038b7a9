"""All repositories on one storage account, built together."""

from __future__ import annotations

from azure.data.tables import TableServiceClient

from shared.settings import Settings
from shared.storage.audit import AuditRepository
from shared.storage.backup_records import BackupRecordRepository
from shared.storage.catalog import DatabaseRepository, PolicyRepository, ServerRepository
from shared.storage.clients import table_service_client
from shared.storage.drill_records import DrillRecordRepository
from shared.storage.freshness import FreshnessRepository


class Repositories:
    """Repositories on tables named `<prefix>servers`, `<prefix>databases`, `<prefix>policies`,
    `<prefix>backups`, `<prefix>drills`, `<prefix>freshness` and `<prefix>audit`; each table
    is created on first use."""

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.servers = ServerRepository(service, prefix)
        self.databases = DatabaseRepository(service, prefix)
        self.policies = PolicyRepository(service, prefix)
        self.backups = BackupRecordRepository(service, prefix)
        self.drills = DrillRecordRepository(service, prefix)
        self.freshness = FreshnessRepository(service, prefix)
        self.audit = AuditRepository(service, prefix)

    @classmethod
    def from_settings(cls, settings: Settings) -> Repositories:
        return cls(table_service_client(settings), settings.table_prefix)
