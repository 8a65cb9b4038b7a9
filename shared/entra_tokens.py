"""Entra ID tokens that Azure Database for PostgreSQL and MySQL flexible servers accept as
passwords, for servers registered with `auth: entra`: no password is stored anywhere.

The app's managed identity (azure-identity's DefaultAzureCredential, or any TokenCredential
handed to `use_credential`, as the tests do) gets a token for the database resource when a
connection is about to open, and the engines hand it to the driver or the client tool
exactly like a password (a 0600 file, never argv). A token lives about an hour: it is
cached until five minutes before it expires, so a connection opened later gets a fresh
one; a dump that runs longer keeps its connection, authenticated once at its start.

A token opens every database its identity may reach, on any server of the cloud, so it is
sent only to host names of Azure's database services (ENTRA_DATABASE_HOSTS) over TLS that
verifies the server's certificate and name: never to an address an administrator, or a
stolen admin token, typed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

DEFAULT_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
DEFAULT_HOSTS = ".postgres.database.azure.com,.mysql.database.azure.com"
# A token this close to its expiry is not handed out: the connection might outlive it
# before it is even established (a slow TLS handshake, a server busy accepting).
REFRESH_BEFORE_SECONDS = 300


class TokenUnavailable(Exception):
    """No token: the host is not one of Azure's database hosts, or the identity could
    not get one. The message holds no token."""


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """An entry starting with '.' admits its subdomains; any other admits that name."""
    plain = host.strip().strip("[]").rstrip(".").lower()
    for entry in (item.strip().lower() for item in allowed):
        if entry.startswith(".") and plain.endswith(entry) and plain != entry:
            return True
        if entry and not entry.startswith(".") and plain == entry:
            return True
    return False


class DatabaseTokens:
    """Tokens for one scope from one credential, cached until near their expiry."""

    def __init__(self, credential: Any, scope: str = DEFAULT_SCOPE) -> None:
        self._credential = credential
        self._scope = scope
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._expires_on - time.time() < REFRESH_BEFORE_SECONDS:
                try:
                    fresh = self._credential.get_token(self._scope)
                except Exception as exc:  # azure-identity's errors name no secret
                    raise TokenUnavailable(
                        f"the app's identity got no Entra ID token for the database "
                        f"({type(exc).__name__})"
                    ) from None
                self._token, self._expires_on = fresh.token, float(fresh.expires_on)
            return self._token


class EntraSignIn:
    """What a connection spec of an `auth: entra` server carries instead of a password:
    the token for its host, if that host may have one."""

    def __init__(self, tokens: DatabaseTokens, allowed_hosts: Sequence[str]) -> None:
        self._tokens = tokens
        self._allowed = tuple(allowed_hosts)

    def token_for(self, host: str) -> str:
        if not host_allowed(host, self._allowed):
            raise TokenUnavailable(
                f"host {host!r} is not an Azure database host (ENTRA_DATABASE_HOSTS): "
                "no Entra ID token is sent there"
            )
        return self._tokens.token()

    def __repr__(self) -> str:
        return "EntraSignIn(…)"


_lock = threading.Lock()
_credential: Any = None
_tokens: dict[str, DatabaseTokens] = {}


def use_credential(credential: Any) -> None:
    """The TokenCredential tokens come from from now on (None: the default one again)."""
    global _credential
    with _lock:
        _credential = credential
        _tokens.clear()


def database_tokens(scope: str = DEFAULT_SCOPE) -> DatabaseTokens:
    """The process's token cache for `scope`, from the managed identity by default."""
    global _credential
    with _lock:
        if scope not in _tokens:
            if _credential is None:
                from azure.identity import DefaultAzureCredential

                _credential = DefaultAzureCredential()
            _tokens[scope] = DatabaseTokens(_credential, scope)
        return _tokens[scope]
