"""Function keys, checked like Azure Functions does.

- `anonymous` routes are open.
- `function` routes accept the function key or the master key.
- `admin` routes accept only the master key.
- The durable management webhooks accept the durabletask system key or the master key.

A key arrives as the `code` query parameter or the `x-functions-key` header. Keys come from
EMULATOR_FUNCTION_KEY / EMULATOR_MASTER_KEY / EMULATOR_SYSTEM_KEY, or are generated at start.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from enum import Enum

from aiohttp import web


class Access(Enum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"
    SYSTEM = "system"


def _key(env_name: str) -> str:
    return os.environ.get(env_name) or secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Keys:
    function_key: str
    master_key: str
    system_key: str

    @classmethod
    def from_environment(cls) -> Keys:
        return cls(
            function_key=_key("EMULATOR_FUNCTION_KEY"),
            master_key=_key("EMULATOR_MASTER_KEY"),
            system_key=_key("EMULATOR_SYSTEM_KEY"),
        )

    def accepted(self, access: Access) -> list[str]:
        if access is Access.FUNCTION:
            return [self.function_key, self.master_key]
        if access is Access.ADMIN:
            return [self.master_key]
        if access is Access.SYSTEM:
            return [self.system_key, self.master_key]
        return []

    def allows(self, request: web.Request, access: Access) -> bool:
        if access is Access.ANONYMOUS:
            return True
        given = request.headers.get("x-functions-key") or request.query.get("code") or ""
        return any(
            hmac.compare_digest(given.encode(), key.encode()) for key in self.accepted(access)
        )


def access_of(auth_level: object) -> Access:
    """Maps a trigger's AuthLevel (enum or string) to an Access."""
    text = str(getattr(auth_level, "value", auth_level) or "function").lower()
    return Access(text) if text in {"anonymous", "function", "admin"} else Access.FUNCTION


def unauthorized() -> web.Response:
    return web.Response(status=401)
