"""The audit log: append-only, a partition per month, newest first across months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.models import AuditEntry
from shared.storage import AlreadyExists, InvalidContinuation, Repositories
from shared.storage.tables import encode_token

INJECTION = "x' or PartitionKey ne '"


def entry(n: int, at: datetime, actor: str = "alice@example.com", **changes: str) -> AuditEntry:
    fields = {"action": "server.update", "resource": f"servers/s-{n % 3}", **changes}
    return AuditEntry(id=f"a-{n:03d}", at=at, actor=actor, **fields)


def _walk(repos: Repositories, page_size: int, **filters: object) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    continuation = None
    while True:
        page = repos.audit.list(page_size=page_size, continuation=continuation, **filters)
        pages += 1
        seen.extend(item.id for item in page.items)
        continuation = page.continuation
        if continuation is None:
            return seen, pages


@pytest.fixture
def three_months(repos: Repositories) -> list[str]:
    """Nine entries, three in each of Jan, Feb and Apr 2026 (March empty); newest first."""
    starts = [datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)]
    starts.append(datetime(2026, 4, 28, tzinfo=UTC))
    n = 0
    for start in starts:
        for hour in range(3):
            repos.audit.append(entry(n, start + timedelta(hours=hour)))
            n += 1
    return [f"a-{n:03d}" for n in reversed(range(9))]


def test_newest_first_across_months_and_pages(repos: Repositories, three_months: list[str]) -> None:
    until = datetime(2026, 5, 1, tzinfo=UTC)
    seen, pages = _walk(repos, 2, until=until)
    assert seen == three_months
    assert pages >= 5
    assert _walk(repos, 50, until=until) == (three_months, 1)


def test_filters(repos: Repositories, three_months: list[str]) -> None:
    repos.audit.append(
        entry(100, datetime(2026, 2, 3, 5, tzinfo=UTC), actor="bob", action="server.delete")
    )
    until = datetime(2026, 5, 1, tzinfo=UTC)
    assert _walk(repos, 10, until=until, actor="bob")[0] == ["a-100"]
    assert _walk(repos, 10, until=until, action="server.delete")[0] == ["a-100"]
    assert _walk(repos, 10, until=until, resource="servers/s-0")[0] == ["a-006", "a-003", "a-000"]
    window = _walk(
        repos,
        10,
        since=datetime(2026, 2, 3, 1, tzinfo=UTC),
        until=datetime(2026, 4, 28, 1, tzinfo=UTC),
    )[0]
    assert window == ["a-006", "a-100", "a-005", "a-004"]
    assert three_months[0] == "a-008"


def test_filter_injection_finds_nothing_extra(repos: Repositories, three_months: list[str]) -> None:
    until = datetime(2026, 5, 1, tzinfo=UTC)
    for field in ("actor", "action", "resource"):
        assert _walk(repos, 10, until=until, **{field: INJECTION})[0] == []


def test_quotes_in_values_match_exactly(repos: Repositories) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    repos.audit.append(entry(1, at, actor="o'brien"))
    repos.audit.append(entry(2, at, actor="obrien"))
    assert _walk(repos, 10, until=at + timedelta(days=1), actor="o'brien")[0] == ["a-001"]


def test_entries_are_append_only(repos: Repositories) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    repos.audit.append(entry(1, at))
    with pytest.raises(AlreadyExists):
        repos.audit.append(entry(1, at, actor="mallory"))
    assert not hasattr(repos.audit, "delete") and not hasattr(repos.audit, "upsert")


def test_empty_log_and_bad_tokens(repos: Repositories) -> None:
    assert repos.audit.list().items == []
    repos.audit.append(entry(1, datetime(2026, 1, 1, tzinfo=UTC)))
    bad_month = encode_token({"month": "2026-13", "PartitionKey": None, "RowKey": None})
    for token in [bad_month, "e30", "%%%"]:
        with pytest.raises(InvalidContinuation):
            repos.audit.list(continuation=token)


def test_default_window_ends_now(repos: Repositories) -> None:
    now = datetime.now(UTC)
    repos.audit.append(entry(1, now - timedelta(days=400)))
    repos.audit.append(entry(2, now - timedelta(seconds=5)))
    assert _walk(repos, 10)[0] == ["a-002", "a-001"]


def test_scrubbed_details_are_stored_as_given(repos: Repositories) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    details = {"after": {"password": "[redacted]", "tags": {"tier": "gold"}}, "count": 3}
    repos.audit.append(entry(1, at).model_copy(update={"details": details}))
    page = repos.audit.list(until=at + timedelta(days=1))
    assert [item.details for item in page.items] == [details]
