"""Deciding who a request comes from, closed by default.

- `AUTH_MODE=entra` with a tenant and an audience: a valid bearer token is required.
- `AUTH_MODE=development`: no token, everyone is admin, but only inside the emulator listening
  on loopback (see `development_refusal`), for a request that reached a loopback address
  directly (see `_is_local_request`), never on Azure.
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
# Set by the emulator (emulator/host.py) to the address it listens on. No other host says
# where it listens (`func start` may listen on every interface), so without it development
# mode is refused.
LISTEN_ADDRESS = "EMULATOR_LISTEN_ADDRESS"
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
        refusal = development_refusal()
        if refusal is not None:
            raise AuthError(401, "auth_not_configured", refusal)
        if not _is_local_request(url, headers):
            raise AuthError(401, "auth_not_configured", "development mode serves loopback only")
        return DEVELOPER


def development_refusal() -> str | None:
    """Why development mode may not run in this process, or None when it may."""
    if any(os.environ.get(marker) for marker in AZURE_MARKERS):
        return "development mode is refused on Azure"
    listening = os.environ.get(LISTEN_ADDRESS, "")
    if not listening:
        return "development mode runs only in the emulator (python -m emulator, make run)"
    if not is_loopback(listening):
        return f"development mode is refused: the emulator listens on {listening}, not loopback"
    return None


def check_development_mode(config: AuthConfig | None = None) -> None:
    """At start: development mode where it may not run stops the app (RuntimeError)."""
    config = config or AuthConfig()
    if config.mode == "development":
        refusal = development_refusal()
        if refusal is not None:
            raise RuntimeError(f"AUTH_MODE=development: {refusal}")


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8, ::1, or ::ffff:127.x.y.z (brackets allowed)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


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
    this safe is that development mode runs only while the emulator listens on loopback
    (`development_refusal`) and that forwarded requests are refused. The Host check is what
    stops DNS rebinding: a page whose name was re-pointed at 127.0.0.1 still sends its name.
    """
    if any(_header(headers, name) for name in PROXY_HEADERS):
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # an unbalanced "[" in the Host header
        return False
    return is_loopback(host)


@lru_cache(maxsize=1)
def authenticator() -> Authenticator:
    """The process's authenticator, built from the environment on first use."""
    return Authenticator(AuthConfig())


def reset_authenticator() -> None:
    """Forget the cached authenticator (tests change the environment)."""
    authenticator.cache_clear()
