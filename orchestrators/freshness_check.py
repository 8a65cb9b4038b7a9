"""Client-side helper for the watchdog: each database's freshness (shared/freshness.py) is
assessed, a change of state stored with a conditional write, and only the run whose write
won notifies it (once; a post that failed is tried again by the next run)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from activities.wiring import services
from shared.freshness import assess, next_state, notification
from shared.jobs import dump_json
from shared.models import BackupRecord, BackupStatus, Freshness, FreshnessState
from shared.notify import NotificationFailed, notify
from shared.storage.backup_records import BackupRecordRepository
from shared.storage.tables import AlreadyExists, ConcurrencyConflict

log = logging.getLogger(__name__)

# The newest records read per database: enough to find where a run of failures began.
RECENT_RECORDS = 50


@dataclass(frozen=True)
class Change:
    state: Freshness
    policy_id: str | None


def recent_records(backups: BackupRecordRepository, database_id: str) -> list[BackupRecord]:
    """The newest records, newest first, and the newest success if none of them is one."""
    page = backups.list_by_database(database_id, RECENT_RECORDS)
    records = list(page.items)
    if page.continuation and all(r.status is not BackupStatus.SUCCEEDED for r in records):
        records += backups.list_by_database(database_id, 1, status=BackupStatus.SUCCEEDED).items
    return records


def find_changes(now: datetime, restarted: Collection[str]) -> list[Change]:
    """Assesses every database, stores the states that changed, and returns those to notify
    (the changes stored now, and earlier ones whose notification failed)."""
    repositories, settings = services().repositories, services().settings
    grace = timedelta(minutes=settings.freshness_grace_minutes)
    servers = {server.id: server for server in repositories.servers.all()}
    policies = {policy.id: policy for policy in repositories.policies.all()}
    stored = repositories.freshness.all()
    changes: list[Change] = []
    for database in repositories.databases.all():
        policy_id = database.policy_under(servers.get(database.server_id))
        records = recent_records(repositories.backups, database.id)
        found = assess(
            database, policies.get(policy_id or ""), records, now, grace,
            loop_restarted=policy_id in restarted,
        )  # fmt: skip
        previous, etag = stored.pop(database.id, (None, None))
        if found is None:
            if previous is not None:
                repositories.freshness.delete(database.id)
            continue
        state = next_state(database.id, previous, found, now)
        if state is None:
            if previous is not None and not previous.notified:
                changes.append(Change(previous, policy_id))
            continue
        try:
            changes.append(Change(repositories.freshness.save(state, etag), policy_id))
        except (AlreadyExists, ConcurrencyConflict):  # another run recorded it first
            continue
    for gone in stored:  # databases deleted since
        repositories.freshness.delete(gone)
    return [change for change in changes if not change.state.notified]


def _post(change: Change) -> None:
    state = change.state
    if state.state is FreshnessState.STALE:
        log.warning("database %s is stale: %s", state.database_id, state.reason)
    else:
        log.info("database %s is fresh again", state.database_id)
    url = services().settings.notify_webhook_url
    notify(url, dump_json(notification(state, change.policy_id)))
    services().repositories.freshness.mark_notified(state.database_id, state.since)


async def check_freshness(restarted: Collection[str] = ()) -> int:
    """The watchdog's check; `restarted` names the policies whose loop it just restarted.
    How many changes were notified."""
    changes = await asyncio.to_thread(find_changes, datetime.now(UTC), restarted)
    notified = 0
    for change in changes:
        try:
            await asyncio.to_thread(_post, change)
            notified += 1
        except NotificationFailed as exc:  # the next run tries again
            log.warning("freshness of %s not notified: %s", change.state.database_id, exc)
    return notified
