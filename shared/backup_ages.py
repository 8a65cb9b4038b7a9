"""Feeds the backup-age gauge (shared/telemetry.py) from the records: when each scheduled
database's newest successful backup finished, read by the watchdog every few minutes.

One small query per database (its newest successful record), and none at all while
telemetry is off. A database never backed up counts from when it was added; one that is
disabled or has no policy is not reported (nothing is expected of it).
"""

from __future__ import annotations

from datetime import datetime

from shared import telemetry
from shared.insights import finished_at
from shared.models import BackupStatus, Database, Server
from shared.storage.repositories import Repositories


def report_backup_ages(repositories: Repositories) -> int:
    """Reports every scheduled database's last good backup; returns how many."""
    if not telemetry.enabled():
        return 0
    servers = {server.id: server for server in repositories.servers.all()}
    reported = 0
    for database in repositories.databases.all():
        server = servers.get(database.server_id)
        since = _last_good(repositories, database, server)
        if server is None or since is None:
            telemetry.forget_database(database.id)
            continue
        telemetry.last_good_backup(
            engine=server.engine, database_id=database.id, server_id=server.id, at=since
        )
        reported += 1
    return reported


def _last_good(
    repositories: Repositories, database: Database, server: Server | None
) -> datetime | None:
    if not database.enabled or database.policy_under(server) is None:
        return None
    page = repositories.backups.list_by_database(
        database.id, page_size=1, status=BackupStatus.SUCCEEDED
    )
    return finished_at(page.items[0]) if page.items else database.created_at
