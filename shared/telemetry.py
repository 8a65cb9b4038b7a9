"""Metrics for operators, through OpenTelemetry: backups by outcome, their duration and size,
the age of each database's newest good backup, and restore drills with their RTO.

Nothing is measured or exported unless `configure_telemetry` found
APPLICATIONINSIGHTS_CONNECTION_STRING (or a test handed a meter provider to
`use_meter_provider`): until then every function here returns at once, and OpenTelemetry
is not even imported.

On Azure Functions the Python worker configures Azure Monitor itself when the app setting
PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY is "true"; configuring it a second time would
export every metric and log line twice. So: with that setting the instruments use the
worker's global meter provider and nothing else is configured; without it (the template's
choice) the app configures Azure Monitor once, here.

Attributes: `engine`, `database`, `server`, and `outcome` where there is one. They land in
Application Insights' customMetrics as customDimensions.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
WORKER_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
METER_NAME = "dilux_backup"

BACKUPS = "dilux.backups"
BACKUP_DURATION = "dilux.backup.duration"
BACKUP_RAW_BYTES = "dilux.backup.raw_bytes"
BACKUP_STORED_BYTES = "dilux.backup.stored_bytes"
BACKUP_AGE = "dilux.backup.age"
DRILLS = "dilux.drills"
DRILL_RTO = "dilux.drill.rto"

# The packages whose log lines are exported (with their job fields, shared/job_context.py):
# the app's own, not the SDKs' (those stay at the host, which forwards every line anyway).
APP_LOGGERS = ("activities", "orchestrators", "entities", "http_api", "shared")
# An age this process has not refreshed for this long is no longer reported: the database
# may be gone, and another instance (the one running the watchdog) reports it.
AGE_REPORTED_FOR = timedelta(minutes=30)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _LastGood:
    attributes: dict[str, str]
    at: datetime
    seen: datetime


class _Instruments:
    def __init__(self, provider: Any) -> None:
        meter = provider.get_meter(METER_NAME)
        self.backups = meter.create_counter(BACKUPS, "{backup}", "backups ended, by outcome")
        self.duration = meter.create_histogram(BACKUP_DURATION, "s", "from dump start to end")
        self.raw = meter.create_histogram(BACKUP_RAW_BYTES, "By", "dump size before zstd")
        self.stored = meter.create_histogram(BACKUP_STORED_BYTES, "By", "blob size")
        self.drills = meter.create_counter(DRILLS, "{drill}", "restore drills, by outcome")
        self.rto = meter.create_histogram(DRILL_RTO, "s", "restore time a drill achieved")
        meter.create_observable_gauge(
            BACKUP_AGE, [_observe_ages], "s", "seconds since the newest successful backup"
        )


_lock = threading.Lock()
_instruments: _Instruments | None = None
_configured = False
_last_good: dict[str, _LastGood] = {}


def configure_telemetry(environ: Mapping[str, str] = os.environ) -> bool:
    """Turns metrics (and the export of the app's log lines) on when the connection string
    is set; returns whether they are on. Called once when the app loads."""
    global _configured
    if not environ.get(CONNECTION_SETTING, "").strip():
        return False
    with _lock:
        if not _configured:
            if environ.get(WORKER_SETTING, "").strip().lower() != "true":
                _configure_azure_monitor()
            _configured = True
    from opentelemetry import metrics

    use_meter_provider(metrics.get_meter_provider())
    return True


def _configure_azure_monitor() -> None:
    """Metrics and the app's log lines to Application Insights; no traces (the host already
    records every invocation, and tracing each storage request would swamp it). Entra
    authentication comes from APPLICATIONINSIGHTS_AUTHENTICATION_STRING, as for the host."""
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(
        disable_tracing=True,
        enable_live_metrics=False,
        enable_performance_counters=False,
        logger_name=APP_LOGGERS[0],
    )
    exported = logging.getLogger(APP_LOGGERS[0])
    handlers = [h for h in exported.handlers if type(h).__name__ == "LoggingHandler"]
    for name in APP_LOGGERS[1:]:
        for handler in handlers:
            logging.getLogger(name).addHandler(handler)


def use_meter_provider(provider: Any | None) -> None:
    """Instruments from this meter provider from now on (None: measure nothing). Tests hand
    it an SDK provider with an in-memory reader."""
    global _instruments
    with _lock:
        _instruments = _Instruments(provider) if provider is not None else None
        _last_good.clear()


def enabled() -> bool:
    return _instruments is not None


def _attributes(engine: str, database_id: str, server_id: str, **more: str) -> dict[str, str]:
    return {"engine": str(engine), "database": database_id, "server": server_id, **more}


def backup_ended(
    *,
    engine: str,
    database_id: str,
    server_id: str,
    outcome: str,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    raw_bytes: int | None = None,
    stored_bytes: int | None = None,
) -> None:
    """A backup ended (call it once, where its record became final): counted by outcome,
    with its duration when it started, and its sizes when it succeeded. A success also
    resets the database's age."""
    instruments = _instruments
    if instruments is None:
        return
    attributes = _attributes(engine, database_id, server_id, outcome=str(outcome))
    instruments.backups.add(1, attributes)
    if started_at is not None and finished_at is not None:
        instruments.duration.record(max((finished_at - started_at).total_seconds(), 0), attributes)
    if raw_bytes is not None:
        instruments.raw.record(raw_bytes, attributes)
    if stored_bytes is not None:
        instruments.stored.record(stored_bytes, attributes)
    if str(outcome) == "succeeded" and finished_at is not None:
        last_good_backup(
            engine=engine, database_id=database_id, server_id=server_id, at=finished_at
        )


def last_good_backup(
    *, engine: str, database_id: str, server_id: str, at: datetime, now: datetime | None = None
) -> None:
    """When a scheduled database's newest successful backup finished (or, never backed up,
    when it was added): its age is reported from then on, for AGE_REPORTED_FOR unless
    refreshed. Fed by backups as they succeed and by the watchdog for every database."""
    if _instruments is None:
        return
    seen = now or datetime.now(UTC)
    with _lock:
        known = _last_good.get(database_id)
        if known is not None and known.at > at:  # what this process saw last is newer
            at = known.at
        _last_good[database_id] = _LastGood(_attributes(engine, database_id, server_id), at, seen)


def forget_database(database_id: str) -> None:
    """The database is no longer scheduled (disabled, deleted): its age is no longer reported."""
    with _lock:
        _last_good.pop(database_id, None)


def backup_ages(now: datetime | None = None) -> list[tuple[dict[str, str], float]]:
    """(attributes, seconds since the newest good backup) of every database reported now."""
    moment = now or datetime.now(UTC)
    with _lock:
        for database_id in [
            key for key, last in _last_good.items() if moment - last.seen > AGE_REPORTED_FOR
        ]:
            del _last_good[database_id]
        known = list(_last_good.values())
    return [(last.attributes, max((moment - last.at).total_seconds(), 0.0)) for last in known]


def _observe_ages(options: Any) -> Iterable[Any]:
    from opentelemetry.metrics import Observation

    return [Observation(seconds, attributes) for attributes, seconds in backup_ages()]


def drill_ended(
    *,
    engine: str,
    database_id: str,
    server_id: str,
    outcome: str,
    rto_seconds: float | None = None,
) -> None:
    """A restore drill ended (call it once): counted by outcome, with the restore time it
    achieved (the RTO) when the restore ran to its end."""
    instruments = _instruments
    if instruments is None:
        return
    attributes = _attributes(engine, database_id, server_id, outcome=str(outcome))
    instruments.drills.add(1, attributes)
    if rto_seconds is not None:
        instruments.rto.record(max(rto_seconds, 0.0), attributes)
