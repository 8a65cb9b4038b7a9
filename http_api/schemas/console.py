"""Bodies of the routes the web console needs beyond the resources: its sign-in settings
and who the caller is."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.models import Model


class ConsoleConfig(Model):
    """Public values only: what the console needs to sign someone in."""

    auth_mode: Literal["entra", "development", "unconfigured"]
    sign_in_ready: bool = Field(description="entra mode with a tenant, audience and client id")
    tenant_id: str | None = None
    client_id: str | None = Field(default=None, description="the console's app registration")
    authority: str | None = None
    scopes: list[str] = Field(default_factory=list)


class Caller(Model):
    subject: str
    name: str | None = None
    role: str | None = Field(default=None, description="Backup.Reader, .Operator or .Admin")
    auth_mode: str
