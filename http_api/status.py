"""Status: storage totals, success rates, stale databases and running jobs (one scan)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.drills import latest_drills
from http_api.durable import running_jobs
from http_api.operations import operation
from http_api.schemas.backups import Counts, RunningJob, StaleDatabase, StatusReport, StorageTotals
from http_api.schemas.drills import DatabaseDrill
from http_api.services import Services, services
from shared.auth import Role
from shared.insights import allowed_age
from shared.models import BackupRecord, BackupStatus, Database, Freshness, FreshnessState, Policy

log = logging.getLogger(__name__)

STATUS = operation(
    "GET", "/status", Role.READER, "Get status", tag="status", response=StatusReport,
    description="A database is stale when its newest successful backup is older than its "
    "policy's most frequent tier allows, plus FRESHNESS_GRACE_MINUTES (one hour by default); "
    "`reason` says why, as the watchdog last found it. `drills`: each database's latest "
    "restore drill.",
)  # fmt: skip

RUNNING_JOBS_SHOWN = 100


@bp.route(route=STATUS.route, methods=[STATUS.method])
@bp.durable_client_input(client_name="client")
async def api_get_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    async def handle(call: Call) -> StatusReport:
        report = await asyncio.to_thread(_report, call, datetime.now(UTC))
        report.running_jobs = await _running_jobs(client)
        return report

    return await STATUS.serve(req, handle)


@dataclass
class _Tally:
    now: datetime
    backups: int = 0
    stored: int = 0
    raw: int = 0
    day: list[int] = field(default_factory=lambda: [0, 0])
    week: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, record: BackupRecord) -> None:
        if record.status is BackupStatus.SUCCEEDED and record.blob_name:
            self.backups += 1
            self.stored += record.stored_bytes or 0
            self.raw += record.raw_bytes or 0
        if record.status not in (BackupStatus.SUCCEEDED, BackupStatus.FAILED):
            return
        finished = record.finished_at or record.updated_at or record.created_at
        failed = int(record.status is BackupStatus.FAILED)
        for window, counts in ((timedelta(days=1), self.day), (timedelta(days=7), self.week)):
            if finished and finished >= self.now - window:
                counts[failed] += 1


def _counts(pair: list[int]) -> Counts:
    total = pair[0] + pair[1]
    return Counts(
        succeeded=pair[0], failed=pair[1], success_rate=pair[0] / total if total else None
    )


def _report(call: Call, now: datetime) -> StatusReport:
    found = services()
    tally = _Tally(now=now)
    policies = {policy.id: policy for policy in found.repos.policies.all()}
    servers = {server.id: server for server in found.repos.servers.all()}
    watched = {db_id: state for db_id, (state, _) in found.repos.freshness.all().items()}
    stale: list[StaleDatabase] = []
    databases = list(found.repos.databases.all())
    for database in databases:
        last_success = None
        for record in found.repos.backups.iter_by_database(database.id):
            tally.add(record)
            if record.status is BackupStatus.SUCCEEDED and last_success is None:
                last_success = record.finished_at or record.created_at
        policy_id = database.policy_under(servers.get(database.server_id))
        policy = policies.get(policy_id or "")
        entry = _stale(found, database, policy, last_success, watched.get(database.id), now)
        if entry is not None:
            stale.append(entry)
    return StatusReport(
        generated_at=now,
        storage=StorageTotals(
            backups=tally.backups, stored_bytes=tally.stored, raw_bytes=tally.raw
        ),
        last_24h=_counts(tally.day),
        last_7d=_counts(tally.week),
        stale_databases=stale,
        running_jobs=[],
        drills=[
            DatabaseDrill(database_id=database_id, **drill.model_dump())
            for database_id, drill in latest_drills(call, found, databases, now).items()
        ],
    )


def _stale(
    found: Services,
    database: Database,
    policy: Policy | None,
    last: datetime | None,
    watched: Freshness | None,
    now: datetime,
) -> StaleDatabase | None:
    grace = timedelta(minutes=found.settings.freshness_grace_minutes)
    allowed = allowed_age(policy, grace) if policy and database.enabled else None
    if allowed is None:
        return None
    since = last or database.created_at
    if since is None or now - since <= allowed:
        return None
    reason = watched.reason if watched and watched.state is FreshnessState.STALE else None
    return StaleDatabase(
        database_id=database.id, policy_id=policy.id if policy else None,
        last_success_at=last, allowed_hours=allowed.total_seconds() / 3600, reason=reason,
    )  # fmt: skip


async def _running_jobs(client: df.DurableOrchestrationClient) -> list[RunningJob]:
    try:
        statuses = await running_jobs(client, RUNNING_JOBS_SHOWN)
    except Exception as exc:
        log.warning("running jobs could not be listed: %s", type(exc).__name__)
        return []
    return [
        RunningJob(
            instance_id=status.instance_id, name=status.name,
            runtime_status=getattr(status.runtime_status, "value", None),
            created_time=status.created_time,
        )
        for status in statuses
    ]  # fmt: skip
