"""Bodies of the database routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from http_api.schemas.common import Password, Query
from shared.models import Database, DatabaseName, Identifier, Model


class DatabaseCreate(Model):
    id: Identifier | None = Field(default=None, description="generated when omitted")
    server_id: Identifier
    name: DatabaseName
    display_name: str | None = Field(default=None, max_length=128)
    enabled: bool = True
    policy_id: Identifier | None = Field(default=None, description="overrides the server's")
    use_server_credentials: bool = True
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: Password | None = None

    @model_validator(mode="after")
    def _own_credentials_need_a_username(self) -> DatabaseCreate:
        if not self.use_server_credentials and not self.username:
            raise ValueError("username is required when use_server_credentials is false")
        return self


class DatabaseUpdate(Model):
    """Only the fields sent change; a database stays on its server."""

    name: DatabaseName | None = None
    display_name: str | None = Field(default=None, max_length=128)
    enabled: bool | None = None
    policy_id: Identifier | None = None
    use_server_credentials: bool | None = None
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: Password | None = None


class DatabaseListQuery(Query):
    server_id: Identifier | None = None
    page_size: int = Field(default=50, ge=1, le=200)
    continuation: str | None = Field(default=None, max_length=4096)


class DatabaseDeleteQuery(Query):
    with_backups: bool = False


class DatabasePage(Model):
    items: list[Database]
    continuation: str | None = None


class RetentionDecisionOut(Model):
    backup_id: str
    action: str
    rule: str
    status: str | None = None
    tiers: list[str] = Field(default_factory=list)
    created_at: datetime | None = None


class RetentionPreview(Model):
    database_id: str
    policy_id: str
    evaluated_at: datetime
    deferred: int
    decisions: list[RetentionDecisionOut]
