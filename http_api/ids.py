"""Ids: new ones for resources created without one (a readable slug of the name plus a
random tail), and what a durable instance id may look like."""

from __future__ import annotations

import re
import secrets

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
# Checked before a client call (GET /jobs/{instance_id}) and stated in the OpenAPI document.
INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")


def new_id(name: str) -> str:
    slug = _NOT_ALLOWED.sub("-", name.lower()).strip("-")[:40].strip("-") or "item"
    return f"{slug}-{secrets.token_hex(3)}"
