"""A destructive action writes an `attempted` audit entry before it acts and its outcome
after, so one stopped midway (here: a crash injected between two deletions) still leaves a
trace of who started it and what it was going to remove."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import pytest

from shared.models import BackupStatus
from tests.api.conftest import Api, repositories
from tests.api.test_status import record, server_srv_with_database_db


class Crash(RuntimeError):
    """Stands for the instance going away midway (an unexpected error: a 500)."""


@pytest.fixture
def crash_on_second_removal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The app's `remove_backup` (as loaded by the emulator) removes one backup, then
    crashes."""
    removal = sys.modules["http_api.removal"]
    real = removal.remove_backup
    removed: list[str] = []

    def remove_backup(found: Any, backup: Any) -> None:
        if removed:
            raise Crash("the instance went away")
        real(found, backup)
        removed.append(backup.id)

    monkeypatch.setattr(removal, "remove_backup", remove_backup)
    # The backup route took the function by name when it was imported.
    monkeypatch.setattr(sys.modules["http_api.backups"], "remove_backup", remove_backup)
    return removed


async def entries(api: Api, action: str) -> list[dict[str, Any]]:
    page = await api.call("GET", "audit", "admin", params={"action": action})
    assert page.status == 200, page.text
    return list(reversed(page.json()["items"]))  # oldest first


async def test_a_server_deletion_that_crashes_midway_leaves_its_attempt(
    api: Api, api_env: dict[str, str], crash_on_second_removal: list[str]
) -> None:
    await server_srv_with_database_db(api)
    repos = repositories(api_env)
    for age in (1, 2, 3):
        repos.backups.create(record("db", "srv", BackupStatus.FAILED, timedelta(hours=age)))

    crashed = await api.call(
        "DELETE", "servers/srv", params={"cascade": "true", "with_backups": "true"}
    )
    assert crashed.status == 500, crashed.text
    assert len(crash_on_second_removal) == 1  # one backup went before the crash

    attempted, failed = await entries(api, "server.delete")
    assert (attempted["outcome"], attempted["resource"]) == ("attempted", "servers/srv")
    assert attempted["details"]["databases_deleted"] == ["db"]
    assert attempted["details"]["with_backups"] is True
    assert attempted["details"]["before"]["id"] == "srv"
    assert failed["outcome"] == "failed" and "500" in failed["details"]["message"]
    assert attempted["at"] <= failed["at"]


async def test_a_backup_deletion_writes_its_attempt_then_its_outcome(
    api: Api, api_env: dict[str, str], crash_on_second_removal: list[str]
) -> None:
    await server_srv_with_database_db(api)
    repos = repositories(api_env)
    first = record("db", "srv", BackupStatus.FAILED, timedelta(hours=1))
    second = record("db", "srv", BackupStatus.FAILED, timedelta(hours=2))
    repos.backups.create(first)
    repos.backups.create(second)

    deleted = await api.call("DELETE", f"backups/db/{first.id}")
    assert deleted.status == 204, deleted.text
    crashed = await api.call("DELETE", f"backups/db/{second.id}")
    assert crashed.status == 500

    outcomes = [
        (entry["resource"], entry["outcome"]) for entry in await entries(api, "backup.delete")
    ]
    assert outcomes == [
        (f"backups/db/{first.id}", "attempted"),
        (f"backups/db/{first.id}", "succeeded"),
        (f"backups/db/{second.id}", "attempted"),
        (f"backups/db/{second.id}", "failed"),
    ]
    assert repos.backups.get("db", second.id) is not None  # nothing went: the trace says so


async def test_an_attempt_that_cannot_be_written_stops_the_action(
    api: Api, api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await server_srv_with_database_db(api)

    def unavailable(self: Any, entry: Any) -> None:
        raise Crash("the audit table is unavailable")

    monkeypatch.setattr(sys.modules["http_api.services"].Services, "append_audit", unavailable)
    refused = await api.call("DELETE", "databases/db")
    assert refused.status == 500
    assert repositories(api_env).databases.get("db") is not None
