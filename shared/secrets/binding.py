"""A stored password is bound to the address it was entered for.

A password is stored together with its binding (the host, port, user name and TLS mode
it was entered for) in one secret value, written at once, so the two never disagree.
Whoever takes the password out says where it is about to go; a password goes only to
the same host, port and user, over TLS at least as strong as it was entered for. So no
move of a server, half-finished update or race between an update and a backup can pair
a password with an address it was not entered for: the pair is checked where it is used.

Passwords stored before bindings existed hold no binding (`StoredPassword.binding` is
None); they count as entered for the address they are used with, so none is ever written
back: every update of a server first binds them to the address they are in use at
(`shared.credentials.bind_unbound`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from shared.models import TlsMode
from shared.secrets.base import SecretStoreError

FORMAT = "dilux-bound-password/1"
# Ordered by what an eavesdropper or impostor can learn: more is stronger.
TLS_STRENGTH = {TlsMode.DISABLE: 0, TlsMode.PREFER: 1, TlsMode.REQUIRE: 2, TlsMode.VERIFY_FULL: 3}
NOT_BOUND_HERE = (
    "the stored password was entered for another address (another host, port or user, or "
    "a stronger TLS mode); enter it again"
)


class Binding(BaseModel):
    """Where a password may be sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int
    username: str
    tls_mode: TlsMode

    @classmethod
    def of(cls, host: str, port: int, username: str, tls_mode: TlsMode) -> Binding:
        """Host names compare without case, brackets or a trailing dot."""
        plain = host.strip().strip("[]").rstrip(".").lower()
        return cls(host=plain, port=int(port), username=username, tls_mode=TlsMode(tls_mode))

    def admits(self, target: Binding) -> bool:
        """True if a password entered for this binding may go to `target`: the same
        host, port and user, over TLS at least as strong."""
        place = (self.host, self.port, self.username)
        same_place = place == (target.host, target.port, target.username)
        return same_place and TLS_STRENGTH[target.tls_mode] >= TLS_STRENGTH[self.tls_mode]

    def with_username(self, username: str) -> Binding:
        return self.model_copy(update={"username": username})


class PasswordNotBoundHere(Exception):
    """A password was asked for an address it was not entered for."""

    def __init__(self) -> None:
        super().__init__(NOT_BOUND_HERE)


@dataclass(frozen=True)
class StoredPassword:
    password: str
    binding: Binding | None  # None: stored before bindings existed

    def for_target(self, target: Binding) -> str:
        """The password, if it may go to `target`; PasswordNotBoundHere otherwise."""
        if self.binding is not None and not self.binding.admits(target):
            raise PasswordNotBoundHere
        return self.password


def seal(password: str, binding: Binding) -> str:
    """The secret value holding `password` and where it may go."""
    value = {"format": FORMAT, "binding": binding.model_dump(mode="json"), "password": password}
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def unseal(value: str) -> StoredPassword:
    """The password and its binding; a value stored before bindings is all password."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return StoredPassword(value, None)
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        return StoredPassword(value, None)
    try:
        return StoredPassword(str(parsed["password"]), Binding.model_validate(parsed["binding"]))
    except (KeyError, ValueError):
        # Never a usable password without its binding.
        raise SecretStoreError("a stored password is damaged (its binding is unreadable)") from None
