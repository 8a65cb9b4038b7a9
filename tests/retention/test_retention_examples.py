"""Readable examples: each retention rule and the words it is explained with."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.models import BackupStatus, DailyRule, Policy, Tier, Trigger, WeeklyRule
from shared.retention import CAP_RULE, RetentionAction, RetentionPlan, plan_retention
from tests.retention.helpers import NOW, record

DAY = timedelta(days=1)
DAILY, WEEKLY = Tier.DAILY, Tier.WEEKLY


def policy(daily: int = 3, weekly: int | None = 2, *, weekly_enabled: bool = True) -> Policy:
    return Policy(
        id="example",
        name="example",
        daily=DailyRule(keep_count=daily),
        weekly=WeeklyRule(keep_count=weekly, enabled=weekly_enabled) if weekly else None,
    )


def rules(plan: RetentionPlan) -> dict[str, str]:
    return {d.record_id: d.rule for d in plan.decisions}


def test_each_tier_keeps_its_newest_and_says_which_position() -> None:
    records = [
        record("d1", NOW - 1 * DAY, [DAILY]),
        record("d2", NOW - 2 * DAY, [DAILY, WEEKLY]),
        record("d3", NOW - 3 * DAY, [DAILY]),
        record("d4", NOW - 4 * DAY, [DAILY]),
        record("d9", NOW - 9 * DAY, [DAILY, WEEKLY]),
        record("d16", NOW - 16 * DAY, [DAILY, WEEKLY]),
    ]
    assert rules(plan_retention(records, policy(), NOW)) == {
        "d1": "kept: newest successful backup, daily 1 of 3",
        "d2": "kept: daily 2 of 3, weekly 1 of 2",
        "d3": "kept: daily 3 of 3",
        "d4": "deleted: beyond daily 3",
        "d9": "kept: weekly 2 of 2",
        "d16": "deleted: beyond daily 3, beyond weekly 2",
    }


def test_removed_or_disabled_tier_no_longer_protects() -> None:
    records = [
        record("new", NOW - DAY, [DAILY]),
        record("old-weekly", NOW - 8 * DAY, [WEEKLY]),
        record("old-monthly", NOW - 20 * DAY, [Tier.MONTHLY]),
    ]
    plan = plan_retention(records, policy(weekly=2, weekly_enabled=False), NOW)
    assert rules(plan)["old-weekly"] == "deleted: tier weekly disabled in policy"
    assert rules(plan)["old-monthly"] == "deleted: tier monthly no longer in policy"
    assert plan.to_delete() == ["old-weekly", "old-monthly"]


def test_newest_success_survives_even_when_no_tier_wants_it() -> None:
    records = [
        record("failed", NOW - DAY, [DAILY], status=BackupStatus.FAILED),
        record("last-good", NOW - 40 * DAY, [Tier.YEARLY]),
    ]
    plan = plan_retention(records, policy(), NOW)
    assert rules(plan)["last-good"] == "kept: newest successful backup"
    assert plan.to_delete() == []


def test_in_flight_records_are_never_deleted() -> None:
    records = [
        record("running", NOW - 90 * DAY, [DAILY], status=BackupStatus.RUNNING),
        record("queued", NOW - 90 * DAY, [DAILY], status=BackupStatus.QUEUED),
        record("good", NOW, [DAILY]),
    ]
    found = rules(plan_retention(records, policy(), NOW))
    assert found["running"] == "kept: running"
    assert found["queued"] == "kept: queued"


def test_manual_backups_follow_their_own_age_rule() -> None:
    records = [
        record("scheduled", NOW - DAY, [DAILY]),
        record("recent", NOW - 12 * DAY - timedelta(hours=3), trigger=Trigger.MANUAL),
        record("ancient", NOW - 31 * DAY, trigger=Trigger.MANUAL),
    ]
    found = rules(plan_retention(records, policy(), NOW))
    assert found["recent"] == "kept: manual, 12 days old, kept 30"
    assert found["ancient"] == "deleted: manual older than 30 days"
    shorter = rules(plan_retention(records, policy(), NOW, manual_keep_days=10))
    assert shorter["recent"] == "deleted: manual older than 10 days"


def test_failed_records_are_cleaned_up_after_a_week() -> None:
    records = [
        record("good", NOW, [DAILY]),
        record("fresh", NOW - 2 * DAY, [DAILY], status=BackupStatus.FAILED),
        record("stale", NOW - 8 * DAY, [DAILY], status=BackupStatus.FAILED),
    ]
    found = rules(plan_retention(records, policy(), NOW))
    assert found["fresh"] == "kept: failed, 2 days old, kept 7"
    assert found["stale"] == "deleted: failed record older than 7 days"


def test_deletion_cap_removes_the_oldest_first_and_defers_the_rest() -> None:
    records = [record(f"b{n:02d}", NOW - n * DAY, [DAILY]) for n in range(10)]
    plan = plan_retention(records, policy(daily=3, weekly=None), NOW, max_deletes=4)
    assert plan.to_delete() == ["b06", "b07", "b08", "b09"]
    assert [rules(plan)[f"b0{n}"] for n in (3, 4, 5)] == [CAP_RULE] * 3
    assert plan.deferred == 3


def test_expired_records_are_finished_or_left_as_history() -> None:
    half_done = record("half", NOW - 30 * DAY, [DAILY], status=BackupStatus.EXPIRED)
    done = half_done.model_copy(update={"id": "done", "blob_name": None})
    plan = plan_retention([record("good", NOW, [DAILY]), half_done, done], policy(), NOW)
    found = {d.record_id: (d.action, d.rule) for d in plan.decisions}
    assert found["half"] == (RetentionAction.FINISH, "finish: expired, blob to delete")
    assert found["done"] == (RetentionAction.KEEP, "kept: expired, blob already deleted")


def test_each_database_is_judged_on_its_own_backups() -> None:
    records = [
        record("one-new", NOW - DAY, [DAILY], database_id="db-one"),
        record("one-old", NOW - 2 * DAY, [DAILY], database_id="db-one"),
        record("two-only", NOW - 5 * DAY, [DAILY], database_id="db-two"),
    ]
    plan = plan_retention(records, policy(daily=1, weekly=None), NOW)
    assert plan.to_delete() == ["one-old"]
    assert rules(plan)["two-only"] == "kept: newest successful backup, daily 1 of 1"


def test_bad_arguments_are_refused() -> None:
    good = [record("a", NOW, [DAILY])]
    with pytest.raises(ValueError, match="negative"):
        plan_retention(good, policy(), NOW, max_deletes=-1)
    with pytest.raises(ValueError, match="aware"):
        plan_retention(good, policy(), NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="unique"):
        plan_retention(good + good, policy(), NOW)
