"""Leases and slots, the pure logic behind the `database` and `server` entities.

Python entities have no critical sections, so mutual exclusion is a lease: the entity
grants the lock to one owner (an orchestration instance id) until an expiry. A holder that
crashed stops renewing, its lease runs out and the next caller gets the lock; nothing can
hold a database or a server slot forever. A holder whose job was terminated (or ended
without releasing) need not be waited for either: entities cannot ask the runtime, so a
refused caller asks (an activity) and names the finished holders in its next request,
which reclaims their leases if they were not renewed since. Every operation takes the
caller's `now` (the orchestration's replay-safe clock) instead of reading a clock, so it
is a plain function.

A server also queues the callers it refused (in order, each with the event it waits on):
handing a slot over answers with the first of them, whom the releasing orchestration wakes,
so a freed slot is taken at once instead of at the waiters' next poll (Python entities
cannot signal an orchestration themselves). Polling stays as the fallback.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from shared.models import Model, Tier

# While another owner holds the lock, callers poll with these delays (doubling, capped).
FIRST_POLL = timedelta(seconds=2)
MAX_POLL = timedelta(seconds=30)
# Errors kept on the entity are for people: cut them short.
MAX_ERROR_CHARS = 500


# --- what the entities are asked and answer ---------------------------------------


class LeaseRequest(Model):
    """Ask an entity for the lock (database) or a slot (server), or renew one already held."""

    owner: str = Field(min_length=1, max_length=256)
    now: datetime
    lease_seconds: int = Field(ge=1)
    record_id: str | None = None
    # Server entity only: how many holders at most, and the external event the caller
    # waits on if refused (it is queued and woken when a slot is handed over).
    limit: int = Field(default=1, ge=1)
    wake_event: str | None = Field(default=None, max_length=256)
    # Holders whose jobs no longer run, with the lease expiry the caller was refused with:
    # their leases are dropped unless renewed since (a job restarted under the same id).
    reclaim: dict[str, datetime] = Field(default_factory=dict, max_length=64)


class LeaseRelease(Model):
    owner: str = Field(min_length=1, max_length=256)
    # Server entity only: hand the slot over, answering with the first waiter to wake (a
    # release that nobody waits for, e.g. a signal, leaves the queue as it is).
    hand_over: bool = False


class LeaseGrant(Model):
    granted: bool
    holder: str | None = None
    expires_at: datetime | None = None
    # When refused: every holder in the way, with its lease's expiry.
    holders: dict[str, datetime] = Field(default_factory=dict)


class OutcomeReport(Model):
    """A finished backup, reported to the database entity."""

    record_id: str
    succeeded: bool
    tiers: list[Tier] = Field(default_factory=list)
    at: datetime
    error: str | None = None


class OutcomeAck(Model):
    consecutive_failures: int
    # The first success after one or more failures.
    recovered: bool = False
    previous_failures: int = 0


class DatabaseState(Model):
    """State of one `database` entity."""

    owner: str | None = None
    expires_at: datetime | None = None
    running_record_id: str | None = None
    last_success: dict[Tier, datetime] = Field(default_factory=dict)
    last_success_record_id: str | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_failure_at: datetime | None = None


class Waiter(Model):
    """A refused caller, queued: the orchestration to wake, and the event it waits on."""

    owner: str
    event: str


class ServerState(Model):
    """State of one `server` entity: the slot holders and when their leases run out, and
    the refused callers waiting for a slot, first come first."""

    slots: dict[str, datetime] = Field(default_factory=dict)
    waiting: list[Waiter] = Field(default_factory=list)


def _expiry(request: LeaseRequest) -> datetime:
    return request.now + timedelta(seconds=request.lease_seconds)


def _reclaimable(owner: str, expires_at: datetime | None, request: LeaseRequest) -> bool:
    return owner in request.reclaim and request.reclaim[owner] == expires_at


def _lock_is_free(state: DatabaseState, request: LeaseRequest) -> bool:
    if state.owner is None or state.owner == request.owner:
        return True
    if _reclaimable(state.owner, state.expires_at, request):
        return True
    return state.expires_at is None or state.expires_at <= request.now


def acquire_lock(state: DatabaseState, request: LeaseRequest) -> tuple[DatabaseState, LeaseGrant]:
    """Grants (or renews) the database lock, unless another owner's lease is still running
    (and was not named as finished)."""
    if not _lock_is_free(state, request):
        assert state.owner is not None and state.expires_at is not None
        return state, LeaseGrant(
            granted=False,
            holder=state.owner,
            expires_at=state.expires_at,
            holders={state.owner: state.expires_at},
        )
    expires = _expiry(request)
    update = {"owner": request.owner, "expires_at": expires}
    if request.record_id is not None:
        update["running_record_id"] = request.record_id
    held = state.model_copy(update=update)
    return held, LeaseGrant(granted=True, holder=request.owner, expires_at=expires)


def release_lock(state: DatabaseState, owner: str) -> DatabaseState:
    """Releases the lock if `owner` holds it; a stale or repeated release changes nothing."""
    if state.owner != owner:
        return state
    return state.model_copy(update={"owner": None, "expires_at": None, "running_record_id": None})


def record_outcome(state: DatabaseState, report: OutcomeReport) -> tuple[DatabaseState, OutcomeAck]:
    """Counts consecutive failures; a success resets them and says whether it is a recovery."""
    if not report.succeeded:
        failures = state.consecutive_failures + 1
        error = (report.error or "unknown error")[:MAX_ERROR_CHARS]
        update = {"consecutive_failures": failures, "last_error": error}
        update["last_failure_at"] = report.at
        return state.model_copy(update=update), OutcomeAck(consecutive_failures=failures)
    last_success = dict(state.last_success)
    for tier in report.tiers:
        last_success[tier] = report.at
    update = {
        "consecutive_failures": 0,
        "last_success": last_success,
        "last_success_record_id": report.record_id,
        "last_success_at": report.at,
    }
    previous = state.consecutive_failures
    ack = OutcomeAck(consecutive_failures=0, recovered=previous > 0, previous_failures=previous)
    return state.model_copy(update=update), ack


def _live_slots(state: ServerState, request: LeaseRequest) -> dict[str, datetime]:
    return {
        owner: expires
        for owner, expires in state.slots.items()
        if expires > request.now and not _reclaimable(owner, expires, request)
    }


def acquire_slot(state: ServerState, request: LeaseRequest) -> tuple[ServerState, LeaseGrant]:
    """Grants (or renews) one of the server's `request.limit` slots; expired leases, and
    those of holders named as finished, free theirs."""
    live = _live_slots(state, request)
    if request.owner not in live and len(live) >= request.limit:
        holder, expires = min(live.items(), key=lambda item: item[1])
        refused = LeaseGrant(granted=False, holder=holder, expires_at=expires, holders=live)
        waiting = state.waiting
        if request.wake_event is not None:  # queued, keeping its place if it was
            waiting = _queued(waiting, Waiter(owner=request.owner, event=request.wake_event))
        return ServerState(slots=live, waiting=waiting), refused
    expires = _expiry(request)
    live[request.owner] = expires
    waiting = [w for w in state.waiting if w.owner != request.owner]
    return ServerState(slots=live, waiting=waiting), LeaseGrant(
        granted=True, holder=request.owner, expires_at=expires
    )


def _queued(waiting: list[Waiter], waiter: Waiter) -> list[Waiter]:
    if any(w.owner == waiter.owner for w in waiting):
        return [waiter if w.owner == waiter.owner else w for w in waiting]
    return [*waiting, waiter]


def release_slot(
    state: ServerState, owner: str, hand_over: bool = False
) -> tuple[ServerState, Waiter | None]:
    """Frees `owner`'s slot. Handing it over also takes the first waiter off the queue and
    returns it, to be woken (refused again, it queues again). Releasing a slot not held
    changes nothing."""
    if owner not in state.slots:
        return state, None
    slots = {key: value for key, value in state.slots.items() if key != owner}
    if not hand_over or not state.waiting:
        return ServerState(slots=slots, waiting=state.waiting), None
    return ServerState(slots=slots, waiting=state.waiting[1:]), state.waiting[0]


def next_poll(now: datetime, grant: LeaseGrant, attempt: int) -> datetime:
    """When a refused caller asks again: backing off, but never after the holder's lease ends."""
    delay = min(FIRST_POLL * (2 ** min(attempt, 16)), MAX_POLL)
    wake = now + delay
    if grant.expires_at is not None and now < grant.expires_at < wake:
        return grant.expires_at
    return wake
