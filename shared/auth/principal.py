"""Roles, the authenticated caller, and the error raised when a caller is refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """Ordered: each role may do everything the roles below it may."""

    READER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def claim(self) -> str:
        return ROLE_CLAIMS_BY_ROLE[self]


ROLE_CLAIMS = {
    "Backup.Reader": Role.READER,
    "Backup.Operator": Role.OPERATOR,
    "Backup.Admin": Role.ADMIN,
}
ROLE_CLAIMS_BY_ROLE = {role: claim for claim, role in ROLE_CLAIMS.items()}


def highest_role(claims: Iterable[str]) -> Role | None:
    """The strongest of our roles among the token's `roles`; unknown values are ignored."""
    granted = [ROLE_CLAIMS[claim] for claim in claims if claim in ROLE_CLAIMS]
    return max(granted) if granted else None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `subject` is stable (the object id); `name` is for humans."""

    subject: str
    name: str | None
    role: Role | None

    def may(self, needed: Role) -> bool:
        return self.role is not None and self.role >= needed

    @property
    def actor(self) -> str:
        """How the audit names this caller."""
        return f"{self.subject} ({self.name})" if self.name else self.subject


class AuthError(Exception):
    """The caller is refused: 401 (who are you?) or 403 (you may not)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
