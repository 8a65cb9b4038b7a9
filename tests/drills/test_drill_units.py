"""The pure parts of restore drills and freshness: scratch names, the rotation of a sample,
the drill schedule (the same math as a policy's tiers), why a database is stale, and what a
caller below admin sees of a drill's failure."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.drills import (
    SCRATCH_PREFIX,
    bytes_per_second,
    is_scratch_name,
    scratch_name,
    select_for_drill,
)
from shared.freshness import assess, next_state, stale_reason
from shared.jobs import drill_instance_id, drill_record_id
from shared.models import (
    DATABASE_NAME_PATTERN,
    BackupRecord,
    BackupStatus,
    DailyRule,
    Database,
    DrillFrequency,
    DrillSchedule,
    Freshness,
    FreshnessState,
    HourlyRule,
    Policy,
    Weekday,
)
from shared.public_errors import public_drill_error
from shared.schedule import latest_missed_drill, next_drill, next_slot
from tests.schedule.reference import reference_slots
from tests.schedule.strategies import ZONES, instants, times, with_seconds

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True)


# --- scratch databases --------------------------------------------------------------------


@given(database_id=ids, instance=st.text(min_size=1, max_size=80))
def test_scratch_names_are_reserved_valid_short_and_fixed_by_the_drill(
    database_id: str, instance: str
) -> None:
    drill_id = drill_record_id(instance)
    name = scratch_name(database_id, drill_id)
    assert name.startswith(SCRATCH_PREFIX) and is_scratch_name(name)
    assert len(name) <= 63  # PostgreSQL would cut a longer name short
    assert re.fullmatch(DATABASE_NAME_PATTERN, name)
    assert name == scratch_name(database_id, drill_record_id(instance))  # a re-run: the same


def test_scratch_names_differ_per_drill_and_the_prefix_is_matched_in_any_case() -> None:
    first = scratch_name("shop", drill_record_id(drill_instance_id("shop", NOW)))
    later = scratch_name("shop", drill_record_id(drill_instance_id("shop", NOW + timedelta(1))))
    assert first != later
    assert is_scratch_name("DILUX_DRILL_shop_1234") and not is_scratch_name("dilux_drills")
    assert not is_scratch_name("shop_dilux_drill_x")


# --- rotation -----------------------------------------------------------------------------


def test_without_a_sample_every_database_is_drilled() -> None:
    assert select_for_drill(["c", "a", "b"], {}, None) == ["a", "b", "c"]
    assert select_for_drill(["c", "a", "b"], {}, 5) == ["a", "b", "c"]


def test_a_sample_takes_the_never_drilled_then_the_least_recently_drilled() -> None:
    last = {"a": NOW, "b": None, "c": NOW - timedelta(days=3), "d": NOW - timedelta(days=1)}
    assert select_for_drill(last, last, 2) == ["b", "c"]
    assert select_for_drill(last, last, 1) == ["b"]
    assert select_for_drill(["x", "y"], {}, 1) == ["x"]  # ties: by id


@SETTINGS
@given(count=st.integers(1, 12), sample=st.integers(1, 12), rounds=st.integers(1, 30))
def test_rotation_drills_every_database_within_ceil_m_over_n_drills(
    count: int, sample: int, rounds: int
) -> None:
    databases = [f"db-{i}" for i in range(count)]
    last: dict[str, datetime | None] = {}
    history = []
    for number in range(rounds):
        chosen = select_for_drill(databases, last, sample)
        assert len(chosen) == min(sample, count)
        assert chosen == select_for_drill(databases, dict(last), sample)  # deterministic
        for database in chosen:
            last[database] = NOW + timedelta(days=number)
        history.append(set(chosen))
    window = math.ceil(count / min(sample, count))
    for start in range(len(history) - window + 1):
        covered = set().union(*history[start : start + window])
        assert covered == set(databases)


def test_throughput() -> None:
    assert bytes_per_second(1000, 2.0) == 500
    assert bytes_per_second(None, 2.0) is None
    assert bytes_per_second(1000, 0.0) is None


# --- the drill schedule -------------------------------------------------------------------

drill_schedules = st.builds(
    DrillSchedule,
    frequency=st.sampled_from(list(DrillFrequency)),
    weekday=st.sampled_from(list(Weekday)),
    day=st.sampled_from([1, 15, 28, 29, 30, 31]) | st.integers(1, 31),
    time=times,
)


@st.composite
def drill_policies(draw: st.DrawFn) -> tuple[Policy, datetime]:
    zone = draw(st.sampled_from(ZONES))
    policy = Policy(
        id="p", name="p", timezone=zone, daily=DailyRule(keep_count=1), drill=draw(drill_schedules)
    )
    return policy, draw(instants(zone)) + draw(with_seconds)


@SETTINGS
@given(drill_policies())
def test_drills_fire_exactly_when_a_tier_with_the_same_rule_would(
    case: tuple[Policy, datetime],
) -> None:
    policy, after = case
    assert policy.drill is not None
    rule = policy.drill.rule()
    tier = {"daily": "daily", "weekly": "weekly", "monthly": "monthly"}[policy.drill.frequency]
    alone = Policy(id="t", name="t", timezone=policy.timezone, **{tier: rule})
    expected = next_slot(alone, after)
    assert expected is not None
    assert next_drill(policy, after) == expected.at
    missed = latest_missed_drill(policy, after - timedelta(days=40), after)
    assert missed is not None and missed <= after
    assert next_drill(policy, missed) is not None and next_drill(policy, missed) > after


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"])
def test_daily_drills_across_the_spring_gap_match_the_minute_by_minute_reference(
    zone: str,
) -> None:
    drill = DrillSchedule(frequency=DrillFrequency.DAILY, time="02:30")
    policy = Policy(id="p", name="p", timezone=zone, drill=drill)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=45)  # every zone here changes in March or April
    expected = [slot.at for slot in reference_slots(drill_only(policy), start, end)]
    found, at = [], next_drill(policy, start)
    while at is not None and at <= end:
        found.append(at)
        at = next_drill(policy, at)
    assert found == expected and len(found) >= 44


def drill_only(policy: Policy) -> Policy:
    assert policy.drill is not None
    return Policy(id="r", name="r", timezone=policy.timezone, daily=policy.drill.rule())


def test_no_drill_without_an_enabled_schedule() -> None:
    plain = Policy(id="p", name="p", daily=DailyRule(keep_count=1))
    off = plain.model_copy(update={"drill": DrillSchedule(enabled=False)})
    for policy in (plain, off):
        assert next_drill(policy, NOW) is None
        assert latest_missed_drill(policy, NOW - timedelta(days=30), NOW) is None


def test_after_downtime_only_the_latest_missed_drill_runs() -> None:
    drill = DrillSchedule(frequency=DrillFrequency.DAILY, time="04:00")
    policy = Policy(id="p", name="p", drill=drill)
    assert latest_missed_drill(policy, NOW - timedelta(days=5), NOW) == NOW.replace(hour=4)
    assert latest_missed_drill(policy, NOW.replace(hour=4), NOW) is None


# --- freshness ----------------------------------------------------------------------------

HOURLY = Policy(id="h", name="h", hourly=HourlyRule(keep_count=3))
GRACE = timedelta(minutes=30)


def record(status: BackupStatus, at: datetime, error: str | None = None) -> BackupRecord:
    return BackupRecord(
        id=f"r-{int(at.timestamp())}", database_id="db", server_id="s", status=status,
        created_at=at, finished_at=at + timedelta(minutes=1), error=error,
    )  # fmt: skip


def database(**extra: object) -> Database:
    return Database(id="db", server_id="s", name="db", created_at=NOW - timedelta(days=9), **extra)


def test_fresh_within_the_rpo_stale_beyond_it() -> None:
    ok = [record(BackupStatus.SUCCEEDED, NOW - timedelta(minutes=60))]
    fresh = assess(database(), HOURLY, ok, NOW, GRACE)
    assert fresh is not None and fresh.state is FreshnessState.FRESH
    assert fresh.allowed == timedelta(hours=1, minutes=30)
    old = [record(BackupStatus.SUCCEEDED, NOW - timedelta(minutes=95))]
    stale = assess(database(), HOURLY, old, NOW, GRACE)
    assert stale is not None and stale.state is FreshnessState.STALE
    assert stale.reason == "no backup slot fired since 2026-05-04 10:25 UTC"
    assert assess(database(), None, old, NOW, GRACE) is None  # no policy: no RPO


def test_why_a_database_is_stale() -> None:
    success = record(BackupStatus.SUCCEEDED, NOW - timedelta(hours=5))
    failures = [
        record(
            BackupStatus.FAILED, NOW - timedelta(hours=h), "connection test failed (unreachable)"
        )
        for h in (1, 2, 3, 4)
    ]
    last = success.created_at
    reason = stale_reason(database(), [*failures, success], last, loop_restarted=False)
    assert reason.startswith("failing since 2026-05-04 08:00 UTC (4 failed in a row): ")
    assert "connection test failed" in reason
    assert "administrator" in reason  # the class of the error, not the server's own words
    running = record(BackupStatus.RUNNING, NOW - timedelta(hours=2))
    reason = stale_reason(database(), [running, success], last, loop_restarted=False)
    assert reason == "its newest backup has been running since 2026-05-04 10:00 UTC"
    assert stale_reason(database(), [], None, loop_restarted=False) == (
        "no backup slot fired since 2026-04-25 12:00 UTC"
    )
    assert stale_reason(database(), failures, None, loop_restarted=True) == (
        "its policy loop was not running (the watchdog restarted it)"
    )
    assert stale_reason(database(enabled=False), failures, None, loop_restarted=True) == (
        "the database is disabled"
    )


def test_only_a_change_of_state_is_stored_and_a_first_fresh_state_is_not_notified() -> None:
    stale = assess(database(), HOURLY, [], NOW, GRACE)
    fresh = assess(database(), HOURLY, [record(BackupStatus.SUCCEEDED, NOW)], NOW, GRACE)
    assert stale is not None and fresh is not None
    first_stale = next_state("db", None, stale, NOW)
    assert first_stale is not None and not first_stale.notified
    first_fresh = next_state("db", None, fresh, NOW)
    assert first_fresh is not None and first_fresh.notified
    stored = Freshness(
        database_id="db", state=FreshnessState.STALE, since=NOW, allowed_hours=1.5, notified=True
    )
    assert next_state("db", stored, stale, NOW + timedelta(minutes=5)) is None
    back = next_state("db", stored, fresh, NOW + timedelta(minutes=5))
    assert back is not None and back.state is FreshnessState.FRESH and not back.notified


# --- what readers see of a drill's failure --------------------------------------------------


def test_a_failed_restore_shows_readers_its_class_only() -> None:
    raw = 'restore failed: psql exited with code 3; stderr: ERROR: role "bob" at 10.0.0.7'
    assert public_drill_error(raw, skipped=False) == (
        "the restore tool failed (exit code 3); an administrator can read the details"
    )
    corrupt = "checksum mismatch: the blob hashes to ab…, the record says cd…; drop the target"
    assert public_drill_error(corrupt, skipped=False).startswith("the backup is corrupted")
    assert public_drill_error("2 tables differ from the manifest", skipped=False) == (
        "2 tables differ from the manifest"
    )
    own = "the database has no successful backup to drill"
    assert public_drill_error(own, skipped=True) == own
    assert "10.0.0.7" not in (public_drill_error("psql: 10.0.0.7 refused", skipped=False) or "")
