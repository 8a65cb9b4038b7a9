"""Turns stored servers and databases into ConnectionSpecs, fetching the password; and
stores passwords bound to the address they were entered for.

This is the one place a password leaves the secret store. It goes straight into a
SecretStr on the spec, and only if it was entered for the address the spec connects to
(shared/secrets/binding.py); errors name the secret, never a value.
"""

from __future__ import annotations

from pydantic import SecretStr

from shared.engines.base import ConnectionSpec
from shared.entra_tokens import EntraSignIn, database_tokens
from shared.models import Database, Server, ServerAuth
from shared.secrets.base import SecretStore, database_secret_name, server_secret_name
from shared.secrets.binding import Binding, PasswordNotBoundHere, seal, unseal
from shared.settings import Settings


class CredentialsError(Exception):
    """The credentials a connection needs are not available."""


def server_binding(server: Server, username: str | None = None) -> Binding:
    """Where a password for `server` (with `username`, default the server's) may go."""
    return Binding.of(server.host, server.port, username or server.username, server.tls_mode)


def database_binding(server: Server, database: Database) -> Binding:
    """Where the own password of `database` (not using its server's) may go."""
    return server_binding(server, database.username or "")


def store_password(secrets: SecretStore, name: str, password: str, binding: Binding) -> None:
    secrets.set(name, seal(password, binding))


def bind_unbound(secrets: SecretStore, name: str, binding: Binding) -> None:
    """Binds a password stored before bindings existed to `binding` (where it was in
    use). Call before a change of address is committed, so that no reader can take the
    old password to the new address."""
    value = secrets.get(name)
    if value is None:
        return
    stored = unseal(value)
    if stored.binding is None:
        store_password(secrets, name, stored.password, binding)


def _password(
    secrets: SecretStore, name: str, needed: bool, owner: str, target: Binding
) -> tuple[SecretStr, Binding | None]:
    """The password stored under `name` if it may go to `target`, and where it was
    entered for; empty when the owner has none (trust auth)."""
    if not needed:
        return SecretStr(""), None
    value = secrets.get(name)
    if value is None:
        raise CredentialsError(
            f"{owner} has a password, but the secret {name!r} is missing from the secret store"
        )
    stored = unseal(value)
    try:
        password = stored.for_target(target)
    except PasswordNotBoundHere as exc:
        raise CredentialsError(f"{owner}: {exc}") from None
    return SecretStr(password), stored.binding or target


def server_spec_for(
    server: Server, secrets: SecretStore, settings: Settings, database: str
) -> ConnectionSpec:
    """A spec for `database` on `server` with the server's own credentials
    (connection tests and discovery, before any database is registered)."""
    if server.auth is ServerAuth.ENTRA:
        return _entra_spec(server, database, settings)
    password, bound_to = _password(
        secrets,
        server_secret_name(server.id),
        server.has_password,
        f"server {server.id}",
        server_binding(server),
    )
    return _spec(server, server.username, password, bound_to, database, settings)


def connection_spec_for(
    server: Server, database: Database, secrets: SecretStore, settings: Settings
) -> ConnectionSpec:
    """A spec for a registered database: its server's credentials, or its own when
    use_server_credentials is false."""
    if database.server_id != server.id:
        raise CredentialsError(f"database {database.id} does not belong to server {server.id}")
    if database.use_server_credentials:
        return server_spec_for(server, secrets, settings, database.name)
    if server.auth is ServerAuth.ENTRA:
        raise CredentialsError(
            f"server {server.id} signs in with Entra ID: database {database.id} must use "
            "the server's credentials (use_server_credentials true)"
        )
    password, bound_to = _password(
        secrets,
        database_secret_name(database.id),
        database.has_password,
        f"database {database.id}",
        database_binding(server, database),
    )
    # Only the server's address and TLS mode are shared; no server password is fetched.
    username = database.username or ""
    return _spec(server, username, password, bound_to, database.name, settings)


def _entra_spec(server: Server, database: str, settings: Settings) -> ConnectionSpec:
    """No password: the app's managed identity gets a token as each connection opens,
    bound to this server's address (shared/entra_tokens.py)."""
    tokens = database_tokens(settings.entra_database_scope)
    entra = EntraSignIn(tokens, settings.entra_database_host_list)
    spec = _spec(server, server.username, SecretStr(""), server_binding(server), database, settings)
    return spec.model_copy(update={"entra": entra})


def _spec(
    server: Server,
    username: str,
    password: SecretStr,
    bound_to: Binding | None,
    database: str,
    settings: Settings,
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
        bound_to=bound_to,
    )
