"""Ids for resources created without one: a readable slug of the name plus a random tail."""

from __future__ import annotations

import re
import secrets

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def new_id(name: str) -> str:
    slug = _NOT_ALLOWED.sub("-", name.lower()).strip("-")[:40].strip("-") or "item"
    return f"{slug}-{secrets.token_hex(3)}"
