"""The lease logic behind the `database` and `server` entities (shared/locks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.locks import (
    MAX_POLL,
    DatabaseState,
    LeaseGrant,
    LeaseRequest,
    OutcomeReport,
    ServerState,
    Waiter,
    acquire_lock,
    acquire_slot,
    next_poll,
    record_outcome,
    release_lock,
    release_slot,
)
from shared.models import Tier

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def ask(owner: str, at: datetime = T0, lease: int = 600, limit: int = 1) -> LeaseRequest:
    record_id = f"r-{owner}"
    return LeaseRequest(owner=owner, now=at, lease_seconds=lease, limit=limit, record_id=record_id)


def test_database_lock_is_exclusive_until_released() -> None:
    state, first = acquire_lock(DatabaseState(), ask("a"))
    state, second = acquire_lock(state, ask("b", T0 + timedelta(seconds=5)))
    assert first.granted and not second.granted
    assert second.holder == "a" and second.expires_at == T0 + timedelta(seconds=600)
    state = release_lock(state, "a")
    state, third = acquire_lock(state, ask("b", T0 + timedelta(seconds=6)))
    assert third.granted and state.owner == "b" and state.running_record_id == "r-b"


def test_database_lock_lease_expires_so_a_crashed_holder_cannot_keep_it() -> None:
    state, _ = acquire_lock(DatabaseState(), ask("crashed", lease=60))
    state, before = acquire_lock(state, ask("b", T0 + timedelta(seconds=59)))
    state, after = acquire_lock(state, ask("b", T0 + timedelta(seconds=60)))
    assert not before.granted
    assert after.granted and state.owner == "b"


def test_database_lock_renewal_by_its_owner_extends_the_lease() -> None:
    state, _ = acquire_lock(DatabaseState(), ask("a", lease=60))
    state, renewed = acquire_lock(state, ask("a", T0 + timedelta(seconds=50), lease=60))
    assert renewed.granted and state.expires_at == T0 + timedelta(seconds=110)


def test_release_by_someone_else_changes_nothing() -> None:
    state, _ = acquire_lock(DatabaseState(), ask("a"))
    assert release_lock(state, "b") == state
    assert release_lock(DatabaseState(), "b") == DatabaseState()


def test_failures_are_counted_and_a_success_after_them_is_a_recovery() -> None:
    state = DatabaseState()
    for n in (1, 2):
        failed = OutcomeReport(record_id=f"f{n}", succeeded=False, at=T0, error="x" * 2000)
        state, ack = record_outcome(state, failed)
        assert ack.consecutive_failures == n and not ack.recovered
    assert state.last_error is not None and len(state.last_error) == 500
    success = OutcomeReport(record_id="ok", succeeded=True, tiers=[Tier.DAILY, Tier.WEEKLY], at=T0)
    state, ack = record_outcome(state, success)
    assert ack.recovered and ack.previous_failures == 2 and ack.consecutive_failures == 0
    assert state.last_success == {Tier.DAILY: T0, Tier.WEEKLY: T0}
    assert state.last_success_record_id == "ok"
    state, ack = record_outcome(state, success)
    assert not ack.recovered


def test_server_grants_at_most_limit_slots_and_frees_them_on_release() -> None:
    state = ServerState()
    state, a = acquire_slot(state, ask("a", limit=2))
    state, b = acquire_slot(state, ask("b", limit=2))
    state, c = acquire_slot(state, ask("c", limit=2))
    assert a.granted and b.granted and not c.granted
    assert c.holder in {"a", "b"}
    state, woken = release_slot(state, "a")
    assert woken is None  # nobody queued
    state, c = acquire_slot(state, ask("c", limit=2))
    assert c.granted and set(state.slots) == {"b", "c"}


def queue(owner: str, at: datetime = T0, limit: int = 1) -> LeaseRequest:
    return ask(owner, at, limit=limit).model_copy(update={"wake_event": f"{owner}-free"})


def test_refused_callers_queue_in_order_and_a_hand_over_wakes_the_first() -> None:
    state, _ = acquire_slot(ServerState(), queue("a"))
    for owner in ("b", "c", "b"):  # b asks again: it keeps its place
        state, refused = acquire_slot(state, queue(owner))
        assert not refused.granted
    assert [w.owner for w in state.waiting] == ["b", "c"]
    state, woken = release_slot(state, "a", hand_over=True)
    assert woken == Waiter(owner="b", event="b-free") and [w.owner for w in state.waiting] == ["c"]
    state, granted = acquire_slot(state, queue("b"))
    assert granted.granted and [w.owner for w in state.waiting] == ["c"]


def test_a_release_without_hand_over_or_by_a_stranger_wakes_nobody() -> None:
    state, _ = acquire_slot(ServerState(), queue("a"))
    state, _ = acquire_slot(state, queue("b"))
    assert release_slot(state, "stranger", hand_over=True) == (state, None)
    released, woken = release_slot(state, "a")  # a signal: the queue stays as it is
    assert woken is None and released.waiting == state.waiting and not released.slots


def test_a_caller_granted_a_slot_leaves_the_queue_and_one_without_event_never_joins() -> None:
    state, _ = acquire_slot(ServerState(), queue("a"))
    state, _ = acquire_slot(state, ask("polls-only"))
    state, _ = acquire_slot(state, queue("b"))
    assert [w.owner for w in state.waiting] == ["b"]
    state, _ = acquire_slot(state, queue("b", T0 + timedelta(hours=1)))  # a's lease ran out
    assert state.waiting == [] and set(state.slots) == {"b"}


def test_server_slot_of_a_crashed_holder_expires() -> None:
    state, _ = acquire_slot(ServerState(), ask("crashed", lease=30))
    state, refused = acquire_slot(state, ask("b", T0 + timedelta(seconds=29)))
    state, granted = acquire_slot(state, ask("b", T0 + timedelta(seconds=30)))
    assert not refused.granted and granted.granted and set(state.slots) == {"b"}


def test_polling_backs_off_but_never_past_the_holders_expiry() -> None:
    far = LeaseGrant(granted=False, holder="a", expires_at=T0 + timedelta(hours=1))
    delays = [next_poll(T0, far, attempt) - T0 for attempt in range(8)]
    assert delays == sorted(delays) and delays[0] > timedelta(0) and delays[-1] == MAX_POLL
    near = LeaseGrant(granted=False, holder="a", expires_at=T0 + timedelta(seconds=1))
    assert next_poll(T0, near, 5) == T0 + timedelta(seconds=1)


operations = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "release"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(min_value=0, max_value=120),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(operations, st.integers(min_value=1, max_value=3))
def test_server_never_has_more_live_holders_than_its_limit(ops, limit) -> None:
    state, now = ServerState(), T0
    for operation, owner, step in ops:
        now += timedelta(seconds=step)
        if operation == "acquire":
            request = ask(owner, now, lease=90, limit=limit)
            request = request.model_copy(update={"wake_event": f"{owner}-{step}"})
            state, grant = acquire_slot(state, request)
            if grant.granted:
                assert state.slots[owner] == now + timedelta(seconds=90)
        else:
            state, woken = release_slot(state, owner, hand_over=step % 2 == 0)
            assert woken is None or woken.owner not in state.slots
        live = [o for o, expires in state.slots.items() if expires > now]
        assert len(live) <= limit
        assert len({w.owner for w in state.waiting}) == len(state.waiting)


@settings(max_examples=100, deadline=None)
@given(operations)
def test_database_lock_has_one_live_owner_at_a_time(ops) -> None:
    state, now = DatabaseState(), T0
    holder_until: dict[str, datetime] = {}
    for operation, owner, step in ops:
        now += timedelta(seconds=step)
        if operation == "acquire":
            state, grant = acquire_lock(state, ask(owner, now, lease=90))
            others = [o for o, until in holder_until.items() if o != owner and until > now]
            assert grant.granted == (not others)
            if grant.granted:
                holder_until = {owner: now + timedelta(seconds=90)}
        else:
            state = release_lock(state, owner)
            holder_until.pop(owner, None)


def test_a_lock_held_by_a_finished_job_is_reclaimed_unless_renewed_since() -> None:
    state, _ = acquire_lock(DatabaseState(), ask("gone"))
    later = T0 + timedelta(seconds=5)
    state, refused = acquire_lock(state, ask("b", later))
    assert not refused.granted and refused.holders == {"gone": T0 + timedelta(seconds=600)}
    # "gone" was restarted under the same id and renewed: the expiry seen is stale
    renewed, _ = acquire_lock(state, ask("gone", later))
    stale = ask("b", later).model_copy(update={"reclaim": refused.holders})
    kept, still = acquire_lock(renewed, stale)
    assert not still.granted and kept.owner == "gone"
    # not renewed: its lease is dropped and the caller gets the lock
    state, granted = acquire_lock(state, stale)
    assert granted.granted and state.owner == "b"


def test_slots_held_by_finished_jobs_are_reclaimed_and_counted_right() -> None:
    state = ServerState()
    for owner in ("a", "dead"):
        state, _ = acquire_slot(state, ask(owner, limit=2))
    state, refused = acquire_slot(state, ask("c", limit=2))
    assert not refused.granted and set(refused.holders) == {"a", "dead"}
    reclaim = {"dead": refused.holders["dead"]}
    request = ask("c", limit=2).model_copy(update={"reclaim": reclaim})
    state, granted = acquire_slot(state, request)
    assert granted.granted and set(state.slots) == {"a", "c"}
