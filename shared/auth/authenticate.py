"""Deciding who a request comes from, closed by default.

- `AUTH_MODE=entra` with a tenant and an audience: a valid bearer token is required.
- `AUTH_MODE=development`: no token, everyone is admin, but only when the request reached a
  loopback address directly (see `_is_local_request`) and the app is not running on Azure.
- Anything else (unset tenant or audience, an unknown mode): every request is refused.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlsplit

from shared.auth.config import AuthConfig
from shared.auth.principal import AuthError, Principal, Role
from shared.auth.tokens import TokenValidator

DEVELOPER = Principal(subject="development", name="local developer", role=Role.ADMIN)

# Set by App Service / Azure Functions on every instance; development mode never runs there.
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME")
# A proxy in front of the app means the caller did not reach the loopback address itself.
PROXY_HEADERS = ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-original-host")


class Authenticator:
    def __init__(self, config: AuthConfig, validator: TokenValidator | None = None) -> None:
        self.config = config
        self._validator = validator
        if validator is None and config.mode == "entra" and config.entra_ready:
            self._validator = TokenValidator(config)

    async def authenticate(self, url: str, headers: Mapping[str, str]) -> Principal:
        mode = self.config.mode
        if mode == "development":
            return self._developer(url, headers)
        if mode == "entra" and self._validator is not None:
            return await self._validator.validate(_bearer_token(headers))
        raise AuthError(401, "auth_not_configured", "authentication is not configured")

    @staticmethod
    def _developer(url: str, headers: Mapping[str, str]) -> Principal:
        if any(os.environ.get(marker) for marker in AZURE_MARKERS):
            raise AuthError(401, "auth_not_configured", "development mode is refused on Azure")
        if not _is_local_request(url, headers):
            raise AuthError(401, "auth_not_configured", "development mode serves loopback only")
        return DEVELOPER


def _bearer_token(headers: Mapping[str, str]) -> str:
    value = _header(headers, "authorization")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing_token", "a bearer token is required")
    return token.strip()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _is_local_request(url: str, headers: Mapping[str, str]) -> bool:
    """The request URL names a loopback host and no proxy forwarded it.

    The URL's host comes from the Host header, which a remote caller controls; what makes
    this safe is that the app only listens on loopback in development (the emulator's
    default) and that forwarded requests are refused.
    """
    if any(_header(headers, name) for name in PROXY_HEADERS):
        return False
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def authenticator() -> Authenticator:
    """The process's authenticator, built from the environment on first use."""
    return Authenticator(AuthConfig())


def reset_authenticator() -> None:
    """Forget the cached authenticator (tests change the environment)."""
    authenticator.cache_clear()
