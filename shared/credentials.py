"""Turns stored servers and databases into ConnectionSpecs, fetching the password.

This is the one place a password leaves the secret store. It goes straight into a
SecretStr on the spec; errors name the secret that is missing, never a value.
"""

from __future__ import annotations

from pydantic import SecretStr

from shared.engines.base import ConnectionSpec
from shared.models import Database, Server
from shared.secrets.base import SecretStore, database_secret_name, server_secret_name
from shared.settings import Settings


class CredentialsError(Exception):
    """The credentials a connection needs are not available."""


def _password(secrets: SecretStore, name: str, needed: bool, owner: str) -> SecretStr:
    """The password stored under `name`; empty when the owner has none (trust auth)."""
    if not needed:
        return SecretStr("")
    value = secrets.get(name)
    if value is None:
        raise CredentialsError(
            f"{owner} has a password, but the secret {name!r} is missing from the secret store"
        )
    return SecretStr(value)


def server_spec_for(
    server: Server, secrets: SecretStore, settings: Settings, database: str
) -> ConnectionSpec:
    """A spec for `database` on `server` with the server's own credentials
    (connection tests and discovery, before any database is registered)."""
    password = _password(
        secrets, server_secret_name(server.id), server.has_password, f"server {server.id}"
    )
    return _spec(server, server.username, password, database, settings)


def connection_spec_for(
    server: Server, database: Database, secrets: SecretStore, settings: Settings
) -> ConnectionSpec:
    """A spec for a registered database: its server's credentials, or its own when
    use_server_credentials is false."""
    if database.server_id != server.id:
        raise CredentialsError(f"database {database.id} does not belong to server {server.id}")
    if database.use_server_credentials:
        return server_spec_for(server, secrets, settings, database.name)
    password = _password(
        secrets, database_secret_name(database.id), database.has_password, f"database {database.id}"
    )
    # Only the server's address and TLS mode are shared; no server password is fetched.
    return _spec(server, database.username or "", password, database.name, settings)


def _spec(
    server: Server, username: str, password: SecretStr, database: str, settings: Settings
) -> ConnectionSpec:
    """The server's address and TLS mode with these credentials."""
    return ConnectionSpec(
        engine=server.engine,
        host=server.host,
        port=server.port,
        username=username,
        password=password,
        database=database,
        tls_mode=server.tls_mode,
        connect_timeout_seconds=settings.connect_timeout_seconds,
    )
