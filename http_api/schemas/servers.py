"""Bodies of the server routes."""

from __future__ import annotations

from pydantic import Field, model_validator

from http_api.schemas.common import Password, Tags
from shared.engines.outcomes import Outcome
from shared.models import (
    Database,
    DatabaseName,
    Engine,
    Hostname,
    Identifier,
    Model,
    Server,
    ServerAuth,
    TlsMode,
    entra_problem,
)

Name = Field(min_length=1, max_length=128)


class ServerCreate(Model):
    id: Identifier | None = Field(default=None, description="generated when omitted")
    name: str = Name
    engine: Engine
    host: Hostname
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1, max_length=128)
    password: Password | None = None
    tls_mode: TlsMode | None = Field(
        default=None,
        description="default: require, and verify-full for Azure's database hosts "
        "(*.postgres.database.azure.com, *.mysql.database.azure.com, *.database.windows.net); "
        "disable only for a server on a network you trust",
    )
    auth: ServerAuth = Field(
        default=ServerAuth.PASSWORD,
        description="entra: no password; the app's managed identity signs in with an Entra "
        "ID token (Azure Database for PostgreSQL or MySQL flexible server, verify-full TLS)",
    )
    default_policy_id: Identifier | None = None
    max_concurrent_backups: int | None = Field(default=None, ge=1, le=32)
    tags: Tags = Field(default_factory=dict)

    @model_validator(mode="after")
    def _entra_is_safe(self) -> ServerCreate:
        if self.auth is ServerAuth.ENTRA:
            tls = self.tls_mode or TlsMode.VERIFY_FULL
            problem = entra_problem(self.engine, tls, self.password is not None)
            if problem:
                raise ValueError(problem)
        return self


class ServerUpdate(Model):
    """Only the fields sent change; the engine of a server is fixed."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    host: Hostname | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: Password | None = None
    tls_mode: TlsMode | None = None
    auth: ServerAuth | None = Field(
        default=None, description="to entra: the stored password is deleted"
    )
    default_policy_id: Identifier | None = None
    max_concurrent_backups: int | None = Field(default=None, ge=1, le=32)
    tags: Tags | None = None


class ServerPage(Model):
    items: list[Server]
    continuation: str | None = None


class ConnectionTestBody(Model):
    """Empty: test the stored host with the stored credentials. Otherwise every connection
    field comes from the body and nothing stored is used (never stored credentials against
    a host named in the request)."""

    host: Hostname | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: Password | None = None
    tls_mode: TlsMode | None = None
    database: DatabaseName | None = None

    @model_validator(mode="after")
    def _all_or_nothing(self) -> ConnectionTestBody:
        if self.is_new and None in (self.host, self.port, self.username):
            raise ValueError("host, port and username are required when testing new credentials")
        return self

    @property
    def is_new(self) -> bool:
        """True when the body brings credentials of its own (any field set, not null)."""
        return any(getattr(self, name) is not None for name in type(self).model_fields)


class ConnectionTestResult(Model):
    """One of a few fixed outcomes; never the server's or the driver's own words."""

    ok: bool
    credentials: str = Field(description="stored or request")
    outcome: Outcome
    message: str = Field(description="a fixed sentence for the outcome")
    server_version: str | None = Field(default=None, description="when ok")
    latency_ms: float | None = Field(default=None, description="when ok")


class DiscoveredDatabaseOut(Model):
    name: str
    is_system: bool
    size_bytes: int | None = None
    added: bool = Field(description="already configured on this server")
    database_id: str | None = None


class DiscoveryResult(Model):
    server_id: str
    databases: list[DiscoveredDatabaseOut]


class DatabaseToAdd(Model):
    name: DatabaseName
    id: Identifier | None = None
    display_name: str | None = Field(default=None, max_length=128)
    policy_id: Identifier | None = None
    enabled: bool = True


class AddDatabasesBody(Model):
    databases: list[DatabaseToAdd] = Field(min_length=1, max_length=100)


class AddFailure(Model):
    name: str
    code: str
    message: str


class AddDatabasesResult(Model):
    created: list[Database]
    failed: list[AddFailure]
