"""What the console draws: the overview, the calendar of slots, and storage.

Each reads the catalog and the records of the databases it shows (one partition query per
database) and hands them to the pure functions of `shared.insights`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.drills import latest_drills
from http_api.errors import invalid
from http_api.lookups import database_or_404, ensure_seeded_policies
from http_api.operations import operation
from http_api.schemas.insights import (
    Calendar,
    CalendarQuery,
    CalendarRow,
    DatabaseUsage,
    Overview,
    StorageQuery,
    StorageReport,
    UpcomingSlot,
)
from http_api.services import Services, services
from http_api.visibility import record_shown_to
from shared import insights
from shared.auth import Role
from shared.models import BackupRecord, BackupStatus, Database, Policy, Server
from shared.retention import RetentionAction, plan_retention

OVERVIEW = operation(
    "GET", "/overview", Role.READER, "Get overview", tag="status", response=Overview,
    description="Every database's protection, stale ones first; storage by tier; the next slots.",
)  # fmt: skip
CALENDAR = operation(
    "GET", "/calendar", Role.READER, "Get calendar", tag="status", query=CalendarQuery,
    response=Calendar,
    description="One cell per slot of each database's current policy, with what became of it "
    "(succeeded, failed, cancelled, running, queued, expired, missed, due, upcoming, "
    "disabled), and one per manual backup.",
)  # fmt: skip
STORAGE = operation(
    "GET", "/storage", Role.READER, "Get storage", tag="status", query=StorageQuery,
    response=StorageReport,
    description="Stored bytes by database, by tier and per day, and what retention frees next.",
)  # fmt: skip
UPCOMING_SHOWN = 10
CALENDAR_BACK = timedelta(days=14)
CALENDAR_AHEAD = timedelta(days=1)
# The longest range one calendar request may cover: a year and a month, beyond the 90 days
# the console offers. Each slot in range costs schedule math per database; an unbounded range
# (years of hourly slots) kept a worker busy for minutes on one request.
CALENDAR_MAX_SPAN = timedelta(days=400)
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass
class Snapshot:
    databases: list[Database]
    servers: dict[str, Server]
    policies: dict[str, Policy]
    records: dict[str, list[BackupRecord]]

    def policy_of(self, database: Database) -> Policy | None:
        policy_id = database.policy_under(self.servers.get(database.server_id))
        return self.policies.get(policy_id or "")

    def all_records(self) -> list[BackupRecord]:
        return [record for records in self.records.values() for record in records]


def snapshot(
    found: Services, call: Call, database_id: str | None = None, *, history: bool = True
) -> Snapshot:
    """The catalog and each database's records, newest first, as `call`'s caller may see
    them. Without `history`, only the records retention still decides on (expired ones whose
    blob is gone are left out), which keeps the read flat however long the history grows."""
    ensure_seeded_policies(found)
    repos = found.repos
    if database_id is None:
        databases = sorted(repos.databases.all(), key=lambda database: database.id)
    else:
        databases = [database_or_404(found, database_id)]
    read = repos.backups.iter_by_database if history else repos.backups.retention_candidates
    return Snapshot(
        databases=databases,
        servers={server.id: server for server in repos.servers.all()},
        policies={policy.id: policy for policy in repos.policies.all()},
        records={
            database.id: [record_shown_to(call, r) for r in _newest_first(read(database.id))]
            for database in databases
        },
    )


def _newest_first(records: Iterable[BackupRecord]) -> list[BackupRecord]:
    return sorted(records, key=lambda r: (r.created_at or _EPOCH, r.id), reverse=True)


@bp.route(route=OVERVIEW.route, methods=[OVERVIEW.method])
async def api_get_overview(req: func.HttpRequest) -> func.HttpResponse:
    return await OVERVIEW.serve(req, _overview)


@bp.route(route=CALENDAR.route, methods=[CALENDAR.method])
async def api_get_calendar(req: func.HttpRequest) -> func.HttpResponse:
    return await CALENDAR.serve(req, _calendar)


@bp.route(route=STORAGE.route, methods=[STORAGE.method])
async def api_get_storage(req: func.HttpRequest) -> func.HttpResponse:
    return await STORAGE.serve(req, _storage)


def _overview(call: Call) -> Overview:
    now = datetime.now(UTC)
    found_services = services()
    found = snapshot(found_services, call, history=False)
    grace = timedelta(minutes=found_services.settings.freshness_grace_minutes)
    freshness = {db_id: state for db_id, (state, _) in found_services.repos.freshness.all().items()}
    drills = latest_drills(call, found_services, found.databases, now)
    rows = [
        insights.with_watch(
            insights.database_health(db, found.policy_of(db), found.records[db.id], now, grace),
            freshness.get(db.id),
            drills.get(db.id),
        )
        for db in found.databases
    ]
    return Overview(
        generated_at=now,
        databases=insights.stale_first(rows),
        storage_by_tier=insights.storage_by_tier(found.all_records()),
        next_slots=_upcoming(rows),
    )


def _upcoming(rows: list[insights.DatabaseHealth]) -> list[UpcomingSlot]:
    """The next slots across databases, databases sharing an instant grouped."""
    grouped: dict[datetime, UpcomingSlot] = {}
    for row in rows:
        if row.next_slot is None:
            continue
        at = row.next_slot.at
        entry = grouped.setdefault(at, UpcomingSlot(at=at, tiers=[], database_ids=[]))
        entry.database_ids.append(row.database_id)
        entry.tiers = sorted({*entry.tiers, *row.next_slot.tiers})
    return [grouped[at] for at in sorted(grouped)][:UPCOMING_SHOWN]


def _calendar(call: Call) -> Calendar:
    query: CalendarQuery = call.query()
    now = datetime.now(UTC)
    start = query.since or now - CALENDAR_BACK
    end = query.until or now + CALENDAR_AHEAD
    if start >= end:
        raise invalid("query.from", "'from' must be before 'to'")
    if end - start > CALENDAR_MAX_SPAN:
        raise invalid(
            "query.from", f"the calendar covers at most {CALENDAR_MAX_SPAN.days} days at once"
        )
    found = snapshot(services(), call, query.database_id)
    rows = []
    for database in found.databases:
        policy = found.policy_of(database)
        slots, manual = insights.calendar(
            database, policy, found.records[database.id], start, end, now
        )
        row = CalendarRow(
            database_id=database.id, name=database.display_name or database.name,
            policy_id=policy.id if policy else None, slots=slots, manual=manual,
        )  # fmt: skip
        rows.append(row)
    return Calendar(start=start, end=end, rows=rows)


def _storage(call: Call) -> StorageReport:
    query: StorageQuery = call.query()
    now = datetime.now(UTC)
    found_services = services()
    found = snapshot(found_services, call)
    by_database = []
    frees = []
    for database in found.databases:
        records = found.records[database.id]
        held = [record for record in records if insights.holds_blob(record)]
        stored = sum(record.stored_bytes or 0 for record in held)
        by_database.append(
            DatabaseUsage(database_id=database.id, backups=len(held), stored_bytes=stored)
        )
        freed = _retention_frees(found_services, found.policy_of(database), records, now)
        if freed.backups:
            frees.append(freed.model_copy(update={"database_id": database.id}))
    everything = found.all_records()
    return StorageReport(
        generated_at=now,
        stored_bytes=sum(usage.stored_bytes for usage in by_database),
        backups=sum(usage.backups for usage in by_database),
        by_database=sorted(by_database, key=lambda usage: -usage.stored_bytes),
        by_tier=insights.storage_by_tier(everything),
        over_time=insights.storage_over_time(everything, now, query.days),
        retention_frees=frees,
    )


def _retention_frees(
    found: Services, policy: Policy | None, records: list[BackupRecord], now: datetime
) -> DatabaseUsage:
    """What a retention run now would delete, from the records it would decide on."""
    if policy is None:
        return DatabaseUsage(database_id="-")
    candidates = {
        record.id: record
        for record in records
        if record.status is not BackupStatus.EXPIRED or record.blob_name
    }
    settings = found.settings
    plan = plan_retention(
        list(candidates.values()), policy, now,
        manual_keep_days=settings.manual_backup_keep_days,
        failed_keep_days=settings.failed_record_keep_days,
        max_deletes=settings.retention_max_deletes_per_run,
    )  # fmt: skip
    deleted = [
        candidates[decision.record_id]
        for decision in plan.decisions
        if decision.action is not RetentionAction.KEEP
    ]
    return DatabaseUsage(
        database_id="-",
        backups=sum(1 for record in deleted if record.blob_name),
        stored_bytes=sum(record.stored_bytes or 0 for record in deleted if record.blob_name),
    )
