"""Bodies of the key routes: the service's age identities, rotation and retirement."""

from __future__ import annotations

from pydantic import Field

from shared.crypto.keys import ServiceIdentity
from shared.models import Model


class KeyList(Model):
    items: list[ServiceIdentity]
    encryption: bool = Field(description="the ENCRYPTION setting: are new backups encrypted")
    extra_recipients: list[str] = Field(description="BACKUP_RECIPIENTS: every backup's too")


class RetireBody(Model):
    dry_run: bool = Field(default=True, description="only list what would become unreadable")


class AffectedBackup(Model):
    database_id: str
    backup_id: str
    blob_name: str | None
    extra_recipients: int = Field(description="other keys that can still decrypt it")


class BlockingBackup(Model):
    database_id: str
    backup_id: str
    reason: str = Field(description="why it keeps the key: legal hold, immutable, running")


class RetireReport(Model):
    key: ServiceIdentity
    dry_run: bool
    unreadable: list[AffectedBackup] = Field(
        description="backups the service can no longer decrypt once the key is retired"
    )
    readable_by_extra_recipients: int = Field(
        description="how many of them the holders of their extra recipients can still decrypt"
    )
    blocked_by: list[BlockingBackup] = Field(
        default_factory=list,
        description="backups that forbid retiring the key: under a legal hold, immutable "
        "until a future date, or still running with it; retirement is refused while any is",
    )
    secret: str | None = Field(default=None, description="what became of the key's secret")
