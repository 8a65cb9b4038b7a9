"""A caller with a valid token but no role cannot flood the audit log, and cannot write
newlines or control characters into it through the names in their token."""

from __future__ import annotations

import asyncio
import json
import sys

from shared.audit import DenialWindows, audit_entry, printable
from tests.api.conftest import Api

SERVER = {"name": "x", "engine": "mariadb", "host": "h", "port": 1, "username": "u"}


async def denied_entries(api: Api, action: str) -> list[dict[str, object]]:
    page = await api.call("GET", "audit", "admin", params={"action": action, "page_size": "200"})
    return [entry for entry in page.json()["items"] if entry["outcome"] == "denied"]


async def test_a_flood_of_refusals_is_one_entry_per_caller_and_action_with_its_count(
    api: Api,
) -> None:
    # A short window, so the test sees it close; set on the services of the app as loaded
    # (other tests may have made the emulator import a fresh copy of its modules).
    sys.modules["http_api.services"].services().denials.seconds = 2.0
    nobody = api.idp.token(None)
    answers = await asyncio.gather(
        *(api.call("POST", "servers", token=nobody, json=SERVER) for _ in range(100))
    )
    assert {answer.status for answer in answers} == {403}
    entries = await denied_entries(api, "server.create")
    assert len(entries) == 1 and entries[0]["actor"] == "oid-none (nobody@example.test)"
    assert entries[0]["details"]["attempts"] == 1  # counted until the window closes
    # Another action and another caller have windows of their own.
    await api.call("DELETE", "servers/x", token=nobody)
    await api.call("POST", "servers", "reader", json=SERVER)
    assert len(await denied_entries(api, "server.delete")) == 1
    assert len(await denied_entries(api, "server.create")) == 2
    await asyncio.sleep(2.5)
    entries = await denied_entries(api, "server.create")
    attempts = {entry["actor"]: entry["details"]["attempts"] for entry in entries}
    assert attempts == {
        "oid-none (nobody@example.test)": 100,
        "oid-reader (reader@example.test)": 1,
    }
    # The next window starts a new entry.
    await api.call("POST", "servers", token=nobody, json=SERVER)
    assert len(await denied_entries(api, "server.create")) == 3


async def test_names_from_token_claims_reach_the_audit_as_one_bounded_line(api: Api) -> None:
    forged = "alice\nINFO 2026 admin logged in\r\x1b[31m\u202eevil" + "y" * 5000
    token = api.idp.token("reader", preferred_username=forged, oid="oid\n-x")
    assert (await api.call("POST", "servers", token=token, json=SERVER)).status == 403
    (entry,) = await denied_entries(api, "server.create")
    actor = str(entry["actor"])
    assert actor.startswith("oid -x (alice INFO 2026 admin logged in [31m evil")
    assert len(actor) <= 256 and actor.isprintable()


def test_printable_keeps_one_line_of_visible_text() -> None:
    assert printable("a\n\tb\x00c\u200bd\u202ee  f", 100) == "a b c d e f"
    assert printable("é漢字 ok", 100) == "é漢字 ok"
    assert printable("x" * 50, 10) == "x" * 10
    assert audit_entry("\n\x07", "a.b", "r").actor == "unknown"


def test_windows_count_per_key_and_share_one_entry_past_their_capacity() -> None:
    windows = DenialWindows(seconds=60, max_open=2)

    def entry(actor: str):  # type: ignore[no-untyped-def]
        return lambda shared: audit_entry("several actors" if shared else actor, "x.y", "r")

    first = windows.refused("a", "x.y", entry("a"))
    assert first is not None and first[1].details["attempts"] == 1
    assert windows.refused("a", "x.y", entry("a")) is None
    assert windows.refused("b", "x.y", entry("b")) is not None
    shared = windows.refused("c", "x.y", entry("c"))
    assert shared is not None and shared[1].actor == "several actors"
    assert windows.refused("d", "x.y", entry("d")) is None  # counted in the shared one
    closed_a, closed_shared = windows.close(first[0]), windows.close(shared[0])
    assert closed_a is not None and closed_a.details["attempts"] == 2
    assert closed_a.id == first[1].id  # written over the first entry
    assert closed_shared is not None and closed_shared.details["attempts"] == 2
    assert windows.close(("b", "x.y")) is None  # nothing followed its first refusal
    assert json.dumps(closed_a.details)  # still plain JSON
