"""`check_freshness` and `notify_freshness`: each database's freshness against its recovery
point objective (shared/freshness.py), stored only when it changes, and each change notified
once.

A change is stored with a conditional write (shared/storage/freshness.py), so two checks that
overlap cannot both record it; it is notified by `notify_freshness`, which posts it and marks
it notified. A post that fails leaves it unmarked: the next check returns it again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from activities import bp
from activities.wiring import services
from shared.freshness import assess, next_state, notification
from shared.jobs import (
    CHECK_FRESHNESS,
    NOTIFY_FRESHNESS,
    CheckFreshnessInput,
    FreshnessChange,
    FreshnessChanges,
    dump_json,
)
from shared.models import BackupRecord, BackupStatus, FreshnessState
from shared.notify import notify
from shared.storage.backup_records import BackupRecordRepository
from shared.storage.tables import AlreadyExists, ConcurrencyConflict

log = logging.getLogger(__name__)

# The newest records read per database: enough to find where a run of failures began.
RECENT_RECORDS = 50


def recent_records(backups: BackupRecordRepository, database_id: str) -> list[BackupRecord]:
    """The newest records, newest first, and the newest success if none of them is one."""
    page = backups.list_by_database(database_id, RECENT_RECORDS)
    records = list(page.items)
    if page.continuation and all(r.status is not BackupStatus.SUCCEEDED for r in records):
        records += backups.list_by_database(database_id, 1, status=BackupStatus.SUCCEEDED).items
    return records


@bp.activity_trigger(input_name="data", activity=CHECK_FRESHNESS)
def check_freshness(data: dict) -> dict:
    """Assesses every database, stores the states that changed, and returns those to notify
    (the changes stored now, and earlier ones not notified yet)."""
    ask = CheckFreshnessInput.model_validate(data)
    repositories, settings = services().repositories, services().settings
    grace = timedelta(minutes=settings.freshness_grace_minutes)
    servers = {server.id: server for server in repositories.servers.all()}
    policies = {policy.id: policy for policy in repositories.policies.all()}
    stored = repositories.freshness.all()
    changes: list[FreshnessChange] = []
    for database in repositories.databases.all():
        policy_id = database.policy_under(servers.get(database.server_id))
        records = recent_records(repositories.backups, database.id)
        found = assess(
            database, policies.get(policy_id or ""), records, ask.now, grace,
            loop_restarted=policy_id in ask.restarted,
        )  # fmt: skip
        previous, etag = stored.pop(database.id, (None, None))
        if found is None:  # no RPO (no policy, no tier): nothing to watch
            if previous is not None:
                repositories.freshness.delete(database.id)
            continue
        state = next_state(database.id, previous, found, ask.now)
        if state is None:
            state = previous
        else:
            try:
                state = repositories.freshness.save(state, etag)
            except (AlreadyExists, ConcurrencyConflict):  # another check recorded it first
                continue
        if state is not None and not state.notified:
            changes.append(FreshnessChange(state=state, policy_id=policy_id))
    for gone in stored:  # databases deleted since
        repositories.freshness.delete(gone)
    return dump_json(FreshnessChanges(changes=changes))


@bp.activity_trigger(input_name="data", activity=NOTIFY_FRESHNESS)
def notify_freshness(data: dict) -> bool:
    """Posts one change (when it is still the stored, unnotified one) and marks it notified;
    raises when the post failed."""
    change = FreshnessChange.model_validate(data)
    state, repository = change.state, services().repositories.freshness
    current = repository.get(state.database_id)
    if current is None or current.since != state.since or current.notified:
        return False
    if state.state is FreshnessState.STALE:
        log.warning("database %s is stale: %s", state.database_id, state.reason)
    else:
        log.info("database %s is fresh again", state.database_id)
    note = dump_json(notification(state, change.policy_id))
    notify(services().settings.notify_webhook_url, note)
    return repository.mark_notified(state.database_id, state.since)
