"""All repositories on one storage account, built together."""

from __future__ import annotations

from dataclasses import dataclass

from azure.data.tables import TableServiceClient

from shared.settings import Settings
from shared.storage.audit import AuditRepository
from shared.storage.backup_records import BackupRecordRepository
from shared.storage.catalog import DatabaseRepository, PolicyRepository, ServerRepository
from shared.storage.clients import table_service_client


@dataclass(frozen=True)
class Repositories:
    servers: ServerRepository
    databases: DatabaseRepository
    policies: PolicyRepository
    backups: BackupRecordRepository
    audit: AuditRepository

    @classmethod
    def create(cls, service: TableServiceClient, prefix: str) -> Repositories:
        """Repositories on tables named `<prefix>servers`, `<prefix>databases`, …"""
        return cls(
            servers=ServerRepository(service, prefix),
            databases=DatabaseRepository(service, prefix),
            policies=PolicyRepository(service, prefix),
            backups=BackupRecordRepository(service, prefix),
            audit=AuditRepository(service, prefix),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Repositories:
        return cls.create(table_service_client(settings), settings.table_prefix)
