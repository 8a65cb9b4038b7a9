"""Drill records and freshness states on Azurite: newest first, what the watchdog's sweep
finds, pruning that never loses a drill with a scratch database left, and conditional
freshness writes (two watchdog runs cannot both record one change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.models import DrillRecord, DrillStatus, Freshness, FreshnessState
from shared.storage import AlreadyExists, ConcurrencyConflict, Repositories

T0 = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)


def drill(number: int, **extra: object) -> DrillRecord:
    values: dict[str, object] = {
        "id": f"drill-{number}", "database_id": "db", "server_id": "s",
        "created_at": T0 + timedelta(days=number), "status": DrillStatus.SUCCEEDED,
        "scratch_dropped": True,
    }  # fmt: skip
    return DrillRecord(**{**values, **extra})


def test_newest_first_and_the_newest_alone(repos: Repositories) -> None:
    for number in (1, 3, 2):
        repos.drills.create(drill(number))
    page = repos.drills.list_by_database("db", page_size=2)
    assert [r.id for r in page.items] == ["drill-3", "drill-2"] and page.continuation
    rest = repos.drills.list_by_database("db", page_size=2, continuation=page.continuation)
    assert [r.id for r in rest.items] == ["drill-1"]
    newest = repos.drills.newest("db")
    assert newest is not None and newest.id == "drill-3"
    assert repos.drills.newest("other") is None
    with pytest.raises(AlreadyExists):
        repos.drills.create(drill(1, created_at=T0))


def test_the_sweep_finds_unfinished_drills_and_scratch_databases_left(
    repos: Repositories,
) -> None:
    repos.drills.create(drill(1))
    repos.drills.create(drill(2, status=DrillStatus.RUNNING, scratch_dropped=False))
    repos.drills.create(drill(3, status=DrillStatus.FAILED, scratch_dropped=False))
    repos.drills.create(drill(4, status=DrillStatus.QUEUED, scratch_dropped=False))
    repos.drills.create(drill(5, status=DrillStatus.SKIPPED))
    assert sorted(r.id for r in repos.drills.left_behind()) == ["drill-2", "drill-3", "drill-4"]


def test_final_records_are_never_rewritten_but_the_drop_is_recorded(
    repos: Repositories,
) -> None:
    created = repos.drills.create(drill(1, status=DrillStatus.FAILED, scratch_dropped=False))
    stored, changed = repos.drills.update_unless_final(created, {"status": DrillStatus.SUCCEEDED})
    assert not changed and stored.status is DrillStatus.FAILED
    dropped = repos.drills.update_fields(created, {"scratch_dropped": True})
    assert dropped.scratch_dropped and dropped.status is DrillStatus.FAILED
    assert repos.drills.left_behind() == []


def test_prune_keeps_the_newest_and_any_drill_whose_scratch_database_may_be_left(
    repos: Repositories,
) -> None:
    for number in range(1, 7):
        repos.drills.create(drill(number))
    repos.drills.create(drill(0, status=DrillStatus.RUNNING, scratch_dropped=False))
    repos.drills.create(drill(-1, status=DrillStatus.FAILED, scratch_dropped=False))
    assert repos.drills.prune("db", keep=3) == 3
    kept = [r.id for r in repos.drills.iter_by_database("db")]
    assert kept == ["drill-6", "drill-5", "drill-4", "drill-0", "drill--1"]


def test_a_freshness_change_is_recorded_by_one_writer_only(
    repos: Repositories,
) -> None:
    stale = Freshness(
        database_id="db", state=FreshnessState.STALE, since=T0, reason="r", allowed_hours=25
    )
    repos.freshness.save(stale, None)
    with pytest.raises(AlreadyExists):  # a second run found no state either
        repos.freshness.save(stale, None)
    ((stored, etag),) = repos.freshness.all().values()
    assert stored.state is FreshnessState.STALE and not stored.notified
    fresh = stale.model_copy(update={"state": FreshnessState.FRESH, "since": T0 + timedelta(1)})
    repos.freshness.save(fresh, etag)
    with pytest.raises(ConcurrencyConflict):  # a second run read the stale state too
        repos.freshness.save(fresh, etag)
    assert not repos.freshness.mark_notified("db", T0)  # that change is not the stored one
    assert repos.freshness.mark_notified("db", T0 + timedelta(1))
    current = repos.freshness.get("db")
    assert current is not None and current.notified and current.state is FreshnessState.FRESH
    assert repos.freshness.delete("db") and repos.freshness.all() == {}
