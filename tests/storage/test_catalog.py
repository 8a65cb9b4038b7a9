"""Servers, databases and policies on real Azurite tables."""

from __future__ import annotations

import pytest

from shared.storage import (
    AlreadyExists,
    ConcurrencyConflict,
    InvalidContinuation,
    NotFound,
    Repositories,
)
from tests.storage.samples import database, policy, server

INJECTION = "x' or PartitionKey ne '"


def test_server_create_get_upsert_delete(repos: Repositories) -> None:
    created = repos.servers.create(server("pg-1", tags={"env": "prod"}, has_password=True))
    assert created.created_at is not None and created.updated_at is not None
    assert repos.servers.get("pg-1") == created

    with pytest.raises(AlreadyExists):
        repos.servers.create(server("pg-1"))

    changed = repos.servers.upsert(created.model_copy(update={"port": 6432, "tags": {}}))
    stored = repos.servers.get("pg-1")
    assert stored is not None
    assert (stored.port, stored.tags, stored.created_at) == (6432, {}, created.created_at)
    assert stored == changed

    assert repos.servers.delete("pg-1") is True
    assert repos.servers.get("pg-1") is None
    assert repos.servers.delete("pg-1") is False


def test_unset_fields_are_cleared_on_write(repos: Repositories) -> None:
    """Writes replace whole entities: a field set back to None must not keep its old value."""
    repos.servers.create(server("pg-1", default_policy_id="gold"))
    current = repos.servers.get("pg-1")
    assert current is not None and current.default_policy_id == "gold"
    repos.servers.upsert(current.model_copy(update={"default_policy_id": None}))
    after = repos.servers.get("pg-1")
    assert after is not None and after.default_policy_id is None


def test_ids_outside_the_alphabet_find_nothing(repos: Repositories) -> None:
    repos.servers.create(server("pg-1"))
    for bad in ["PG-1", "pg-1/../x", "pg-1'", "", "pg-1\n"]:
        assert repos.servers.get(bad) is None
        assert repos.servers.delete(bad) is False
    assert repos.servers.get("pg-1") is not None


def test_policy_round_trip_keeps_nested_rules(repos: Repositories) -> None:
    created = repos.policies.create(policy("gold"))
    stored = repos.policies.get("gold")
    assert stored == created
    assert stored is not None and stored.daily is not None and stored.monthly is not None
    assert (stored.daily.time, stored.monthly.day) == ("03:30", 31)
    assert stored.timezone == "Europe/Madrid"
    assert stored.weekly is None


def test_paging_walks_every_server_once(repos: Repositories) -> None:
    ids = [f"srv-{n:02d}" for n in range(11)]
    for id in reversed(ids):
        repos.servers.create(server(id))

    seen: list[str] = []
    pages = 0
    continuation = None
    while True:
        page = repos.servers.list(page_size=4, continuation=continuation)
        pages += 1
        seen.extend(item.id for item in page.items)
        continuation = page.continuation
        if continuation is None:
            break
    assert seen == ids
    assert pages == 3


def test_a_forged_continuation_is_refused(repos: Repositories) -> None:
    repos.servers.create(server("pg-1"))
    for token in ["not base64 !", "e30", "eyJhIjoxfQ"]:  # garbage, {}, {"a":1}
        with pytest.raises(InvalidContinuation):
            repos.servers.list(page_size=1, continuation=token)


def test_page_size_is_bounded(repos: Repositories) -> None:
    for size in (0, 1001):
        with pytest.raises(ValueError, match="page_size"):
            repos.servers.list(page_size=size)


def test_databases_by_server_and_by_policy(repos: Repositories) -> None:
    for n in range(5):
        repos.databases.create(database(f"a-{n}", "srv-a", policy_id="gold" if n % 2 else None))
    repos.databases.create(database("b-0", "srv-b", policy_id="gold"))

    first = repos.databases.list_by_server("srv-a", page_size=3)
    second = repos.databases.list_by_server("srv-a", page_size=3, continuation=first.continuation)
    assert [d.id for d in first.items + second.items] == [f"a-{n}" for n in range(5)]
    assert second.continuation is None

    gold = repos.databases.list_by_policy("gold")
    assert sorted(d.id for d in gold.items) == ["a-1", "a-3", "b-0"]
    assert [d.id for d in repos.databases.all_by_server("srv-b")] == ["b-0"]


def test_filter_injection_finds_nothing_extra(repos: Repositories) -> None:
    repos.databases.create(database("a-0", "srv-a", policy_id="gold"))
    repos.databases.create(database("b-0", "srv-b"))
    for value in [INJECTION, "srv-a' or '1' eq '1", "srv-a or true", "@pk", "'"]:
        assert repos.databases.list_by_server(value).items == []
        assert repos.databases.list_by_policy(value).items == []
        assert list(repos.databases.all_by_server(value)) == []


def test_update_with_etag_detects_a_concurrent_write(repos: Repositories) -> None:
    repos.servers.create(server("pg-1"))
    found = repos.servers.get_with_etag("pg-1")
    assert found is not None
    model, etag = found

    repos.servers.update(model.model_copy(update={"port": 1111}), etag)
    with pytest.raises(ConcurrencyConflict):
        repos.servers.update(model.model_copy(update={"port": 2222}), etag)
    stored = repos.servers.get("pg-1")
    assert stored is not None and stored.port == 1111

    fresh = repos.servers.get_with_etag("pg-1")
    assert fresh is not None
    repos.servers.delete("pg-1")
    with pytest.raises(NotFound):
        repos.servers.update(fresh[0], fresh[1])


def test_all_yields_every_policy(repos: Repositories) -> None:
    for n in range(3):
        repos.policies.create(policy(f"p-{n}"))
    assert [p.id for p in repos.policies.all()] == ["p-0", "p-1", "p-2"]


def test_only_one_of_two_concurrent_editors_wins(repos: Repositories) -> None:
    repos.servers.create(server("pg-1"))
    first = repos.servers.get_with_etag("pg-1")
    second = repos.servers.get_with_etag("pg-1")
    assert first is not None and second is not None
    repos.servers.update(first[0].model_copy(update={"name": "first"}), first[1])
    with pytest.raises(ConcurrencyConflict):
        repos.servers.update(second[0].model_copy(update={"name": "second"}), second[1])
    stored = repos.servers.get("pg-1")
    assert stored is not None and stored.name == "first"
