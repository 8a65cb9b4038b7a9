"""Freshness: is each database's newest successful backup within its recovery point objective
(RPO), and when it is not, why. Pure functions over records already read; the watchdog
stores the result (shared/storage/freshness.py) and notifies only changes of state.

The RPO is the interval of the policy's most frequent enabled tier plus
FRESHNESS_GRACE_MINUTES. A database is stale when its newest successful backup (or, before
its first one, its creation) is older than that. A backup's age counts from when it was
taken: its record's creation, at its slot (a backup that waited for a lock recovers to a
point a little later than that, never earlier). A disabled database is judged by its policy
too: protection that stops because someone switched it off is worth knowing about.

Why a database is stale, the first that applies:
1. the database is disabled;
2. its policy loop was not running (the watchdog just restarted it);
3. its newest backups failed: failing since the first failure after the last success;
4. its newest backup is still queued or running (waiting for a lock, say);
5. otherwise no backup ran: no slot fired since the last success (or the database's
   creation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.insights import allowed_age
from shared.jobs import Notification, NotificationEvent
from shared.models import (
    BackupRecord,
    BackupStatus,
    Database,
    Freshness,
    FreshnessState,
    Model,
    Policy,
)
from shared.public_errors import public_error

_FAILED = (BackupStatus.FAILED, BackupStatus.CANCELLED)


class Assessment(Model):
    state: FreshnessState
    reason: str | None = None
    last_success_at: datetime | None = None
    allowed: timedelta


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def assess(
    database: Database,
    policy: Policy | None,
    records: Sequence[BackupRecord],
    now: datetime,
    grace: timedelta,
    *,
    loop_restarted: bool = False,
) -> Assessment | None:
    """`records` newest first. None when the database has no RPO (no policy, no tier)."""
    allowed = allowed_age(policy, grace) if policy is not None else None
    if allowed is None:
        return None
    success = next((r for r in records if r.status is BackupStatus.SUCCEEDED), None)
    last_success = success.created_at if success else None
    since = last_success or database.created_at
    if since is None or now - since <= allowed:
        return Assessment(state=FreshnessState.FRESH, last_success_at=last_success, allowed=allowed)
    reason = stale_reason(database, records, last_success, loop_restarted=loop_restarted)
    return Assessment(
        state=FreshnessState.STALE, reason=reason, last_success_at=last_success, allowed=allowed
    )


def stale_reason(
    database: Database,
    records: Sequence[BackupRecord],
    last_success: datetime | None,
    *,
    loop_restarted: bool,
) -> str:
    """Why backups stopped (see the module docstring), `records` newest first."""
    if not database.enabled:
        return "the database is disabled"
    if loop_restarted:
        return "its policy loop was not running (the watchdog restarted it)"
    since_success = [
        r for r in records if r.status is not BackupStatus.SUCCEEDED and _after(r, last_success)
    ]
    failures = [r for r in since_success if r.status in _FAILED]
    if since_success and since_success[0].status in _FAILED:
        first = failures[-1].created_at
        # Shown to every role: the class of the error, not the server's own words.
        error = f": {public_error(since_success[0].error)}" if since_success[0].error else ""
        return f"failing since {_when(first)} ({len(failures)} failed in a row){error}"
    if since_success:  # queued or running: a slot fired, its backup has not ended
        newest = since_success[0]
        return f"its newest backup has been {newest.status.value} since {_when(newest.created_at)}"
    moments = [m for m in (last_success, database.created_at) if m is not None]
    if not moments:
        return "no backup slot fired"
    return f"no backup slot fired since {_when(max(moments))}"


def _after(record: BackupRecord, moment: datetime | None) -> bool:
    created = record.created_at
    return moment is None or (created is not None and created > moment)


def next_state(
    database_id: str, previous: Freshness | None, found: Assessment, now: datetime
) -> Freshness | None:
    """The state to store when it changed (or none was stored), else None. A first state
    that is fresh needs no notification; every other change does."""
    if previous is not None and previous.state is found.state:
        return None
    return Freshness(
        database_id=database_id,
        state=found.state,
        since=now,
        reason=found.reason,
        last_success_at=found.last_success_at,
        allowed_hours=found.allowed.total_seconds() / 3600,
        notified=previous is None and found.state is FreshnessState.FRESH,
    )


def notification(state: Freshness, policy_id: str | None) -> Notification:
    """What a change of state posts to the webhook."""
    stale = state.state is FreshnessState.STALE
    return Notification(
        event=NotificationEvent.DATABASE_STALE if stale else NotificationEvent.DATABASE_FRESH,
        database_id=state.database_id,
        policy_id=policy_id,
        error=state.reason,
        at=state.since,
    )
