"""Backup records: one partition per database, newest first, paged and filtered."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.models import BackupStatus, DumpManifest, TableManifest, Trigger
from shared.storage import AlreadyExists, ConcurrencyConflict, NotFound, Repositories
from tests.storage.samples import record

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INJECTION = "x' or PartitionKey ne '"


def _fill(repos: Repositories, database_id: str, count: int, **changes: object) -> list[str]:
    """Records at T0, T0+1h, … created in shuffled order; returns ids newest first."""
    moments = list(range(count))
    random.Random(count).shuffle(moments)
    for hour in moments:
        at = T0 + timedelta(hours=hour)
        repos.backups.create(record(f"{database_id}-r{hour:03d}", database_id, at, **changes))
    return [f"{database_id}-r{hour:03d}" for hour in reversed(range(count))]


def test_round_trip_keeps_every_field(repos: Repositories) -> None:
    manifest = DumpManifest(
        engine="postgresql",
        database="shop",
        server_version="15.8",
        tool_version="pg_dump (PostgreSQL) 18.6",
        tables=[TableManifest(schema_name="public", name="orders", rows=3_000_000_000)],
    )
    full = record(
        "r1",
        "db-1",
        T0,
        status=BackupStatus.SUCCEEDED,
        tiers=["daily", "monthly"],
        trigger=Trigger.MANUAL,
        slot_time=T0,
        started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(minutes=5, microseconds=123456),
        raw_bytes=11 * 2**40,
        stored_bytes=3 * 2**40,
        sha256="ab" * 32,
        blob_name="srv/db-1/2026/03/01/x.sql.zst",
        compression="zstd-3",
        manifest=manifest,
        error=None,
    )
    created = repos.backups.create(full)
    stored = repos.backups.get("db-1", "r1")
    assert stored == created
    assert stored is not None and stored.raw_bytes == 11 * 2**40
    assert stored.finished_at == T0 + timedelta(minutes=5, microseconds=123456)
    assert stored.manifest == manifest


def test_latest_backups_come_first_across_pages(repos: Repositories) -> None:
    expected = _fill(repos, "db-1", 12)
    _fill(repos, "db-2", 3)

    seen: list[str] = []
    continuation = None
    pages = 0
    while True:
        page = repos.backups.list_by_database("db-1", page_size=5, continuation=continuation)
        seen.extend(r.id for r in page.items)
        pages += 1
        continuation = page.continuation
        if continuation is None:
            break
    assert seen == expected
    assert pages == 3
    latest = repos.backups.list_by_database("db-1", page_size=1).items
    assert [r.id for r in latest] == [expected[0]]


def test_filters_by_status_and_time(repos: Repositories) -> None:
    ids = _fill(repos, "db-1", 6)
    failed = repos.backups.get("db-1", ids[1])
    assert failed is not None
    repos.backups.upsert(failed.model_copy(update={"status": BackupStatus.FAILED}))

    only_failed = repos.backups.list_by_database("db-1", status=BackupStatus.FAILED)
    assert [r.id for r in only_failed.items] == [ids[1]]

    window = repos.backups.list_by_database(
        "db-1", since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4)
    )
    assert [r.id for r in window.items] == ["db-1-r003", "db-1-r002"]


def test_list_all_spans_databases_with_filters(repos: Repositories) -> None:
    _fill(repos, "db-1", 3)
    _fill(repos, "db-2", 2)
    repos.backups.create(record("other", "db-3", T0, server_id="srv-b", trigger="manual"))

    everything: list[str] = []
    continuation = None
    while True:
        page = repos.backups.list_all(page_size=2, continuation=continuation)
        everything.extend(r.id for r in page.items)
        continuation = page.continuation
        if continuation is None:
            break
    assert len(everything) == 6 and len(set(everything)) == 6
    assert everything[:3] == ["db-1-r002", "db-1-r001", "db-1-r000"]

    assert [r.id for r in repos.backups.list_all(server_id="srv-b").items] == ["other"]
    assert [r.id for r in repos.backups.list_all(trigger=Trigger.MANUAL).items] == ["other"]
    since = repos.backups.list_all(since=T0 + timedelta(hours=2))
    assert [r.id for r in since.items] == ["db-1-r002"]


def test_filter_injection_finds_nothing_extra(repos: Repositories) -> None:
    _fill(repos, "db-1", 2)
    assert repos.backups.list_all(server_id=INJECTION).items == []
    assert repos.backups.list_all(server_id="srv' or server_id ne 'x").items == []
    assert repos.backups.list_by_database(INJECTION).items == []
    assert repos.backups.get("db-1", INJECTION) is None
    assert repos.backups.get(INJECTION, "db-1-r000") is None


def test_create_twice_is_refused_even_at_another_moment(repos: Repositories) -> None:
    repos.backups.create(record("r1", "db-1", T0))
    with pytest.raises(AlreadyExists):
        repos.backups.create(record("r1", "db-1", T0))
    with pytest.raises(AlreadyExists):
        repos.backups.create(record("r1", "db-1", T0 + timedelta(minutes=1)))
    assert len(repos.backups.list_by_database("db-1").items) == 1


def test_upsert_keeps_the_row_of_an_existing_record(repos: Repositories) -> None:
    repos.backups.create(record("r1", "db-1", T0))
    moved = record("r1", "db-1", T0 + timedelta(days=1), status=BackupStatus.RUNNING)
    stored = repos.backups.upsert(moved)
    assert stored.created_at == T0
    items = repos.backups.list_by_database("db-1").items
    assert [(r.id, r.status) for r in items] == [("r1", BackupStatus.RUNNING)]


def test_update_with_etag_detects_a_concurrent_write(repos: Repositories) -> None:
    repos.backups.create(record("r1", "db-1", T0))
    found = repos.backups.get_with_etag("db-1", "r1")
    assert found is not None
    current, etag = found
    repos.backups.update(current.model_copy(update={"status": BackupStatus.RUNNING}), etag)
    with pytest.raises(ConcurrencyConflict):
        repos.backups.update(current.model_copy(update={"status": BackupStatus.FAILED}), etag)
    stored = repos.backups.get("db-1", "r1")
    assert stored is not None and stored.status is BackupStatus.RUNNING
    with pytest.raises(NotFound):
        repos.backups.update(record("nope", "db-1", T0), etag)


def test_delete_and_iterate(repos: Repositories) -> None:
    ids = _fill(repos, "db-1", 4)
    assert repos.backups.delete("db-1", ids[0]) is True
    assert repos.backups.delete("db-1", ids[0]) is False
    assert repos.backups.delete("db-2", ids[1]) is False
    assert [r.id for r in repos.backups.iter_by_database("db-1")] == ids[1:]


def test_a_token_from_another_database_cannot_leak_its_records(repos: Repositories) -> None:
    _fill(repos, "db-1", 3)
    _fill(repos, "db-2", 3)
    other = repos.backups.list_by_database("db-2", page_size=1)
    assert other.continuation is not None
    page = repos.backups.list_by_database("db-1", page_size=10, continuation=other.continuation)
    # The token only moves the start; the partition filter still holds (db-2 sorts after db-1).
    assert page.items == []
    assert len(repos.backups.list_by_database("db-1", page_size=10).items) == 3


def test_the_manifest_of_a_database_with_thousands_of_tables_fits(repos: Repositories) -> None:
    """One table property holds 64 KiB; a 5,000-table manifest is ~300 KB of JSON."""
    tables = [
        TableManifest(schema_name=f"schema_{n % 7}", name=f"table_number_{n}", rows=n * 1000)
        for n in range(5000)
    ]
    manifest = DumpManifest(
        engine="mariadb", database="big", server_version="11", tool_version="11", tables=tables
    )
    long_error = "stderr line\n" * 5000
    repos.backups.create(record("r1", "db-1", T0, manifest=manifest, error=long_error))
    stored = repos.backups.get("db-1", "r1")
    assert stored is not None
    assert stored.manifest == manifest
    assert stored.error == long_error.strip()  # models strip surrounding whitespace
    smaller = manifest.model_copy(update={"tables": tables[:2]})
    repos.backups.upsert(stored.model_copy(update={"manifest": smaller, "error": None}))
    after = repos.backups.get("db-1", "r1")
    assert after is not None and after.manifest == smaller and after.error is None


def test_latest_backups_are_one_partition_query(
    storage_connection_string: str, table_prefix: str, repos: Repositories
) -> None:
    """Watch the requests: one query, bounded to the database's partition, values quoted."""
    from urllib.parse import parse_qs, urlsplit

    from azure.data.tables import TableServiceClient

    _fill(repos, "db-1", 3)
    sent: list[str] = []
    watched = TableServiceClient.from_connection_string(
        storage_connection_string, raw_request_hook=lambda r: sent.append(r.http_request.url)
    )
    backups = Repositories(watched, table_prefix).backups
    backups.list_by_database("db-1", page_size=2)  # the table exists: created by _fill
    queries = [parse_qs(urlsplit(url).query) for url in sent]
    assert len(queries) == 1
    assert queries[0]["$filter"] == ["PartitionKey eq 'db-1'"]
    assert queries[0]["$top"] == ["2"]

    sent.clear()
    backups.list_by_database("db-1", status=INJECTION)  # type: ignore[arg-type]
    (query,) = [parse_qs(urlsplit(url).query) for url in sent]
    assert query["$filter"] == ["PartitionKey eq 'db-1' and status eq 'x'' or PartitionKey ne '''"]


def test_replace_rewrites_the_row_its_created_at_names(repos: Repositories) -> None:
    stored = repos.backups.create(record("r1", "db-1", T0))
    repos.backups.replace(stored.model_copy(update={"status": BackupStatus.RUNNING}))
    items = repos.backups.list_by_database("db-1").items
    assert [(r.id, r.status, r.created_at) for r in items] == [("r1", BackupStatus.RUNNING, T0)]
    with pytest.raises(ValueError, match="no created_at"):
        repos.backups.replace(stored.model_copy(update={"created_at": None}))


def _watched(storage_connection_string: str, table_prefix: str) -> tuple[Repositories, list[str]]:
    """Repositories on a client that notes each request as "METHOD url"."""
    from azure.data.tables import TableServiceClient

    sent: list[str] = []
    watched = TableServiceClient.from_connection_string(
        storage_connection_string,
        raw_request_hook=lambda r: sent.append(f"{r.http_request.method} {r.http_request.url}"),
    )
    return Repositories(watched, table_prefix), sent


def test_a_lookup_by_id_is_one_request(
    storage_connection_string: str, table_prefix: str, repos: Repositories
) -> None:
    """The partition query returns the entity and its etag: no second read of the row."""
    from urllib.parse import parse_qs, urlsplit

    ids = _fill(repos, "db-1", 3)
    watched, sent = _watched(storage_connection_string, table_prefix)
    watched.backups.list_by_database("db-1", page_size=1)  # creates nothing: the table exists
    sent.clear()
    found = watched.backups.get_with_etag("db-1", ids[1])
    assert len(sent) == 1 and sent[0].startswith("GET ")
    query = parse_qs(urlsplit(sent[0].split(" ", 1)[1]).query)
    assert query["$filter"] == [f"PartitionKey eq 'db-1' and id eq '{ids[1]}'"]
    assert query["$top"] == ["1"]  # the server stops at the match
    assert found is not None
    current, etag = found
    # The query's etag is the row's: an update at it goes through, a second one conflicts.
    watched.backups.update(current.model_copy(update={"status": BackupStatus.RUNNING}), etag)
    with pytest.raises(ConcurrencyConflict):
        watched.backups.update(current.model_copy(update={"status": BackupStatus.FAILED}), etag)

    sent.clear()
    assert watched.backups.get("db-1", ids[2]) is not None
    assert watched.backups.get("db-1", "missing") is None
    assert len(sent) == 2


def test_delete_record_is_one_request(
    storage_connection_string: str, table_prefix: str, repos: Repositories
) -> None:
    ids = _fill(repos, "db-1", 4)
    watched, sent = _watched(storage_connection_string, table_prefix)
    watched.backups.list_by_database("db-1", page_size=1)
    held = watched.backups.get("db-1", ids[0])
    assert held is not None
    sent.clear()
    assert watched.backups.delete_record(held) is True
    assert [line.split(" ", 1)[0] for line in sent] == ["DELETE"]
    # Gone already: the point delete finds nothing, the lookup by id confirms it.
    assert watched.backups.delete_record(held) is False
    # A created_at that does not name the row still finds the record by id.
    stray = watched.backups.get("db-1", ids[1])
    assert stray is not None and stray.created_at is not None
    moved = stray.model_copy(update={"created_at": stray.created_at + timedelta(seconds=1)})
    assert watched.backups.delete_record(moved) is True
    assert watched.backups.delete_record(stray.model_copy(update={"created_at": None})) is False
    # The lookup by id then the delete: two requests.
    sent.clear()
    assert watched.backups.delete("db-1", ids[2]) is True
    assert [line.split(" ", 1)[0] for line in sent] == ["GET", "DELETE"]
    assert [r.id for r in repos.backups.iter_by_database("db-1")] == ids[3:]
