"""Reads the routes share: one resource or 404, references checked or 422."""

from __future__ import annotations

import contextlib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from http_api.errors import invalid, not_found, validation_error
from http_api.services import Services
from shared.models import Database, Policy, Server
from shared.seed_policies import SEEDED_POLICIES
from shared.storage.tables import AlreadyExists

M = TypeVar("M", bound=BaseModel)


def server_or_404(services: Services, server_id: str) -> Server:
    server = services.repos.servers.get(server_id)
    if server is None:
        raise not_found("server", server_id)
    return server


def database_or_404(services: Services, database_id: str) -> Database:
    database = services.repos.databases.get(database_id)
    if database is None:
        raise not_found("database", database_id)
    return database


def policy_or_404(services: Services, policy_id: str) -> Policy:
    ensure_seeded_policies(services)
    policy = services.repos.policies.get(policy_id)
    if policy is None:
        raise not_found("policy", policy_id)
    return policy


def ensure_seeded_policies(services: Services) -> None:
    """Creates the seeded policies that do not exist yet, once per process (idempotent:
    an existing policy of the same id, edited or not, is left alone)."""
    if services.policies_seeded:
        return
    for policy in SEEDED_POLICIES:
        if services.repos.policies.get(policy.id) is None:
            # AlreadyExists: another instance seeded it meanwhile.
            with contextlib.suppress(AlreadyExists):
                services.repos.policies.create(policy.model_copy(deep=True))
    services.policies_seeded = True


def check_policy_reference(services: Services, field: str, policy_id: str | None) -> None:
    """A policy named in a body must exist (422 naming the field otherwise)."""
    ensure_seeded_policies(services)
    if policy_id is not None and services.repos.policies.get(policy_id) is None:
        raise invalid(f"body.{field}", f"policy {policy_id!r} does not exist")


def rebuilt(model: M, changes: dict[str, object]) -> M:
    """`model` with `changes` applied and validated as a whole (422 if the result is not valid)."""
    data = model.model_dump()
    data.update(changes)
    try:
        return type(model).model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def effective_policy_id(services: Services, database: Database) -> str | None:
    """Database.policy_under, reading the server only when the database has no policy."""
    server = None if database.policy_id else services.repos.servers.get(database.server_id)
    return database.policy_under(server)
