"""The instruments themselves: names, attributes, values; and nothing without a provider."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from shared import telemetry
from tests.telemetry.metrics import recording

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
DB = {"engine": "postgresql", "database_id": "shop", "server_id": "pg1"}
ATTRS = {"engine": "postgresql", "database": "shop", "server": "pg1"}


def test_a_backup_is_counted_timed_and_sized() -> None:
    with recording() as recorded:
        telemetry.backup_ended(
            **DB, outcome="succeeded", started_at=T0, finished_at=T0 + timedelta(seconds=42),
            raw_bytes=1000, stored_bytes=300,
        )  # fmt: skip
        telemetry.backup_ended(**DB, outcome="failed", started_at=T0, finished_at=T0)
        counted = {p.attributes["outcome"]: p.value for p in recorded.named(telemetry.BACKUPS)}
        assert counted == {"succeeded": 1, "failed": 1}
        durations = {
            p.attributes["outcome"]: p.value for p in recorded.named(telemetry.BACKUP_DURATION)
        }
        assert durations == {"succeeded": (1, 42.0), "failed": (1, 0.0)}
        [raw] = recorded.named(telemetry.BACKUP_RAW_BYTES)
        [stored] = recorded.named(telemetry.BACKUP_STORED_BYTES)
        assert (raw.value, stored.value) == ((1, 1000), (1, 300))
        assert raw.attributes == {**ATTRS, "outcome": "succeeded"}


def test_the_age_of_the_newest_good_backup_grows_until_the_next_one() -> None:
    with recording():
        telemetry.last_good_backup(**DB, at=T0, now=T0)
        assert telemetry.backup_ages(T0 + timedelta(minutes=10)) == [(ATTRS, 600.0)]
        # An older report (another instance's stale view) never makes it older.
        telemetry.last_good_backup(**DB, at=T0 - timedelta(days=1), now=T0 + timedelta(minutes=10))
        assert telemetry.backup_ages(T0 + timedelta(minutes=10)) == [(ATTRS, 600.0)]
        telemetry.last_good_backup(
            **DB, at=T0 + timedelta(minutes=20), now=T0 + timedelta(minutes=20)
        )
        assert telemetry.backup_ages(T0 + timedelta(minutes=21)) == [(ATTRS, 60.0)]
        # Not refreshed for AGE_REPORTED_FOR: no longer reported by this process.
        late = T0 + timedelta(minutes=20) + telemetry.AGE_REPORTED_FOR + timedelta(seconds=1)
        assert telemetry.backup_ages(late) == []


def test_a_successful_backup_resets_the_age() -> None:
    with recording():
        now = datetime.now(UTC)
        telemetry.last_good_backup(**DB, at=now - timedelta(days=2))
        telemetry.backup_ended(**DB, outcome="failed", started_at=now, finished_at=now)
        [(_, failed)] = telemetry.backup_ages()
        assert failed >= 2 * 86400
        telemetry.backup_ended(**DB, outcome="succeeded", started_at=now, finished_at=now)
        [(_, succeeded)] = telemetry.backup_ages()
        assert succeeded < 60


def test_the_age_gauge_is_observed_at_collection() -> None:
    with recording() as recorded:
        telemetry.last_good_backup(**DB, at=datetime.now(UTC) - timedelta(hours=27))
        [age] = recorded.named(telemetry.BACKUP_AGE)
        assert age.attributes == ATTRS
        assert 27 * 3600 <= age.value < 27 * 3600 + 60
        telemetry.forget_database("shop")
        assert recorded.named(telemetry.BACKUP_AGE) == []


def test_a_drill_is_counted_with_its_rto() -> None:
    with recording() as recorded:
        telemetry.drill_ended(**DB, outcome="succeeded", rto_seconds=12.5)
        telemetry.drill_ended(**DB, outcome="failed")
        counted = {p.attributes["outcome"]: p.value for p in recorded.named(telemetry.DRILLS)}
        assert counted == {"succeeded": 1, "failed": 1}
        [rto] = recorded.named(telemetry.DRILL_RTO)
        assert rto.value == (1, 12.5) and rto.attributes == {**ATTRS, "outcome": "succeeded"}


def test_without_a_provider_nothing_is_recorded_or_kept() -> None:
    telemetry.use_meter_provider(None)
    telemetry.backup_ended(**DB, outcome="succeeded", started_at=T0, finished_at=T0)
    telemetry.last_good_backup(**DB, at=T0)
    assert not telemetry.enabled()
    assert telemetry.backup_ages(T0) == []


def test_without_the_connection_string_nothing_is_configured_or_imported() -> None:
    """Run in a fresh interpreter: importing the app's telemetry and calling every
    instrument function imports no OpenTelemetry and configures nothing."""
    import subprocess

    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from shared import telemetry\n"
        "assert telemetry.configure_telemetry({}) is False\n"
        "now = datetime.now(UTC)\n"
        "telemetry.backup_ended(engine='mariadb', database_id='d', server_id='s',"
        " outcome='failed', started_at=now, finished_at=now)\n"
        "telemetry.drill_ended(engine='mariadb', database_id='d', server_id='s',"
        " outcome='failed')\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor'))]\n"
        "assert not loaded, loaded\n"
        "assert not telemetry.enabled()\n"
    )
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)
