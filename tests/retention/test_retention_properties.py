"""Properties of retention plans over generated histories and policies."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models import BackupRecord, BackupStatus, Policy, Trigger
from shared.retention import RetentionAction, plan_retention, record_time
from tests.retention.helpers import NOW, apply_plan
from tests.retention.strategies import histories, retention_policies

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
caps = st.integers(0, 80)
KEEP, DELETE, FINISH = RetentionAction.KEEP, RetentionAction.DELETE, RetentionAction.FINISH


def newest(records: list[BackupRecord]) -> list[BackupRecord]:
    return sorted(records, key=lambda r: (record_time(r), r.id), reverse=True)


def by_id(records: list[BackupRecord]) -> dict[str, BackupRecord]:
    return {r.id: r for r in records}


def expected_actions(records: list[BackupRecord], policy: Policy) -> dict[str, RetentionAction]:
    """An independent statement of the rules, before the per-run cap."""
    protected: set[str] = set()
    for database in {r.database_id for r in records}:
        good = newest(
            [r for r in records if r.database_id == database and r.status == BackupStatus.SUCCEEDED]
        )
        protected.update(r.id for r in good[:1])
        for tier, rule in policy.rules().items():
            protected.update(r.id for r in [g for g in good if tier in g.tiers][: rule.keep_count])
    actions = {}
    for r in records:
        age = NOW - record_time(r)
        if r.status in (BackupStatus.QUEUED, BackupStatus.RUNNING):
            actions[r.id] = KEEP
        elif r.status == BackupStatus.EXPIRED:
            actions[r.id] = FINISH if r.blob_name else KEEP
        elif r.status == BackupStatus.FAILED:
            actions[r.id] = DELETE if age > timedelta(days=7) else KEEP
        else:
            young_manual = (r.trigger == Trigger.MANUAL or not r.tiers) and age <= timedelta(
                days=30
            )
            actions[r.id] = KEEP if r.id in protected or young_manual else DELETE
    return actions


@SETTINGS
@given(histories(), retention_policies(), caps)
def test_plan_matches_the_rules_with_oldest_deletions_first(
    records: list[BackupRecord], policy: Policy, cap: int
) -> None:
    plan = plan_retention(records, policy, NOW, max_deletes=cap)
    expected = expected_actions(records, policy)
    doomed = [r.id for r in newest(records) if expected[r.id] == DELETE]
    waiting = set(doomed[: max(0, len(doomed) - cap)])
    got = {d.record_id: d.action for d in plan.decisions}
    for record_id, action in expected.items():
        want = KEEP if record_id in waiting else action
        assert got[record_id] == want, (
            record_id,
            next(d for d in plan.decisions if d.record_id == record_id),
        )
    assert plan.deferred == len(waiting)
    assert len(plan.to_delete()) <= cap


@SETTINGS
@given(histories(), retention_policies(), caps)
def test_every_record_gets_one_explained_decision_newest_first(
    records: list[BackupRecord], policy: Policy, cap: int
) -> None:
    plan = plan_retention(records, policy, NOW, max_deletes=cap)
    assert [d.record_id for d in plan.decisions] == [r.id for r in newest(records)]
    prefixes = {KEEP: "kept: ", DELETE: "deleted: ", FINISH: "finish: "}
    for decision in plan.decisions:
        assert decision.rule.startswith(prefixes[decision.action])
        assert len(decision.rule) > len(prefixes[decision.action])


@SETTINGS
@given(histories(), retention_policies(), caps)
def test_tiers_keep_exactly_their_newest_and_safety_rails_hold(
    records: list[BackupRecord], policy: Policy, cap: int
) -> None:
    plan = plan_retention(records, policy, NOW, max_deletes=cap)
    by_id = {d.record_id: d for d in plan.decisions}
    for database in {r.database_id for r in records}:
        good = newest(
            [r for r in records if r.database_id == database and r.status == BackupStatus.SUCCEEDED]
        )
        if good:
            assert by_id[good[0].id].action == KEEP
            assert "newest successful backup" in by_id[good[0].id].rule
        for tier, rule in policy.rules().items():
            tagged = [r for r in good if tier in r.tiers]
            kept_by_tier = [
                r
                for r in tagged
                if f"{tier.value} " in by_id[r.id].rule and " of " in by_id[r.id].rule
            ]
            assert kept_by_tier == tagged[: min(rule.keep_count, len(tagged))]
            for position, item in enumerate(kept_by_tier, start=1):
                assert by_id[item.id].action == KEEP
                assert f"{tier.value} {position} of {rule.keep_count}" in by_id[item.id].rule
    for r in records:
        if r.status in (BackupStatus.RUNNING, BackupStatus.QUEUED):
            assert by_id[r.id].action == KEEP


@SETTINGS
@given(histories(), retention_policies(), caps, st.randoms(use_true_random=False))
def test_applying_a_plan_then_planning_again_deletes_nothing_more(
    records: list[BackupRecord], policy: Policy, cap: int, rng: random.Random
) -> None:
    plan = plan_retention(records, policy, NOW, max_deletes=cap)
    # Some deletions crash half way: the record is expired but its blob is still there.
    interrupted = {i for i in plan.to_delete() if rng.random() < 0.3}
    after = apply_plan(records, plan, interrupted=interrupted)
    again = plan_retention(after, policy, NOW, max_deletes=cap)
    if plan.deferred == 0:
        assert again.to_delete() == []
    half_done = {r.id for r in after if r.status == BackupStatus.EXPIRED and r.blob_name}
    assert set(again.to_finish()) == half_done
    assert {i for i in interrupted if by_id(records)[i].blob_name} <= half_done
    finished = apply_plan(after, again)
    third = plan_retention(finished, policy, NOW, max_deletes=cap)
    assert third.to_finish() == []


@SETTINGS
@given(histories(), retention_policies(), st.integers(1, 10))
def test_capped_runs_converge_to_the_uncapped_result(
    records: list[BackupRecord], policy: Policy, cap: int
) -> None:
    uncapped = plan_retention(records, policy, NOW, max_deletes=10_000)
    current = records
    for _ in range(len(records) // cap + 2):
        plan = plan_retention(current, policy, NOW, max_deletes=cap)
        current = apply_plan(current, plan)
    expired = {r.id for r in current if r.status == BackupStatus.EXPIRED}
    was_expired = {r.id for r in records if r.status == BackupStatus.EXPIRED}
    assert expired - was_expired == set(uncapped.to_delete())


@SETTINGS
@given(histories(), retention_policies(), st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_input_order(
    records: list[BackupRecord], policy: Policy, rng: random.Random
) -> None:
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert plan_retention(shuffled, policy, NOW) == plan_retention(records, policy, NOW)
