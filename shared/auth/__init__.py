"""Who is calling the HTTP API, and what they may do: bearer tokens, roles, development mode."""

from shared.auth.authenticate import (
    Authenticator,
    authenticator,
    check_development_mode,
    reset_authenticator,
)
from shared.auth.config import AuthConfig
from shared.auth.principal import AuthError, Principal, Role

__all__ = [
    "AuthConfig",
    "AuthError",
    "Authenticator",
    "Principal",
    "Role",
    "authenticator",
    "check_development_mode",
    "reset_authenticator",
]
