"""Bodies of the restore drill routes."""

from __future__ import annotations

from pydantic import Field

from http_api.schemas.common import Query
from shared.insights import LastDrill
from shared.models import DrillRecord, Identifier, Model


class DrillListQuery(Query):
    page_size: int = Field(default=20, ge=1, le=100)
    continuation: str | None = Field(default=None, max_length=4096)


class DrillPage(Model):
    items: list[DrillRecord]
    continuation: str | None = None


class DrillBody(Model):
    backup_id: Identifier | None = Field(
        default=None, description="the backup to drill; default: the newest successful one"
    )


class DatabaseDrill(LastDrill):
    database_id: str
