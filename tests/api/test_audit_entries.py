"""Audit entries are built without secrets, however deep a secret-looking field sits."""

from __future__ import annotations

from pydantic import SecretStr

from shared.audit import REDACTED, AuditOutcome, audit_entry, scrub
from shared.models import Server


def test_secret_fields_are_redacted_at_any_depth() -> None:
    value = {
        "name": "prod",
        "password": "p1",
        "nested": [{"connection_string": "AccountKey=abc", "client_secret": "s"}],
        "options": {"sas_token": "sig=xyz", "url": "https://x?sig=1", "port": 5432},
    }
    cleaned = scrub(value)
    assert cleaned["password"] == REDACTED
    assert cleaned["nested"][0] == {"connection_string": REDACTED, "client_secret": REDACTED}
    assert cleaned["options"] == {"sas_token": REDACTED, "url": REDACTED, "port": 5432}
    assert cleaned["name"] == "prod"


def test_entry_holds_before_after_and_outcome() -> None:
    server = Server(
        id="s1", name="n", engine="postgresql", host="h", port=5432, username="u", has_password=True
    )
    entry = audit_entry(
        "alice",
        "server.update",
        "servers/s1",
        before=server,
        after=server.model_copy(update={"port": 5433}),
        details={"password": SecretStr("hidden"), "reason": "move"},
        outcome=AuditOutcome.FAILED,
        message="x" * 2000,
    )
    assert entry.outcome == "failed" and entry.resource == "servers/s1"
    assert entry.details["before"]["port"] == 5432 and entry.details["after"]["port"] == 5433
    assert entry.details["before"]["has_password"] is True
    assert entry.details["password"] == REDACTED and entry.details["reason"] == "move"
    assert len(entry.details["message"]) == 500
    assert "hidden" not in entry.model_dump_json()
