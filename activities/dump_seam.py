"""The seam of the backup activities: the worker that tests a database and dumps it to a blob.

By default it is `PipelineWorker` (the engine's connection test and the real pipeline,
`shared.pipeline.dump.run_backup`). The setting BACKUP_WORKER ("package.module:attribute")
swaps it for another object with the same two methods, so the virtual-time simulation can
replace hours of dumping with a fast fake that still writes a small real blob, without
touching the activities or the host. Only modules of the `tests` package qualify, and the
deployment package carries no tests: on Azure the setting cannot load anything.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from shared.engines.base import ConnectionResult
from shared.models import BackupRecord, Database, Server
from shared.pipeline.results import BackupOutcome

if TYPE_CHECKING:
    from activities.wiring import Services


@dataclass(frozen=True)
class WorkRequest:
    """One database to test or dump. `progress(raw_bytes, stored_bytes)` may be called often;
    once `cancel` is set the dump must stop, commit nothing and raise BackupFailed."""

    services: Services
    server: Server
    database: Database
    record: BackupRecord
    blob_name: str = ""
    progress: Callable[[int, int], None] | None = None
    # How the dump is encrypted and stored (None: plain, the store's defaults).
    encryption: Any = None
    placement: Any = None
    cancel: threading.Event | None = None


class BackupWorker(Protocol):
    def check_connection(self, request: WorkRequest) -> ConnectionResult: ...

    def dump(self, request: WorkRequest) -> BackupOutcome:
        """Commits `request.blob_name` (if-none-match) or raises BackupFailed."""
        ...


def _spec(request: WorkRequest) -> Any:
    from shared.credentials import connection_spec_for

    services = request.services
    return connection_spec_for(
        request.server, request.database, services.secrets, services.settings
    )


class PipelineWorker:
    """The real thing: the engine's connection test; dump tool → zstd → SHA-256 → blob."""

    def check_connection(self, request: WorkRequest) -> ConnectionResult:
        from shared.engines.registry import engine_for

        return engine_for(request.server.engine).test_connection(_spec(request))

    def dump(self, request: WorkRequest) -> BackupOutcome:
        from shared.engines.registry import engine_for
        from shared.pipeline.dump import run_backup
        from shared.pipeline.results import PipelineOptions

        return run_backup(
            engine_for(request.server.engine),
            _spec(request),
            request.services.blobs,
            record_id=request.record.id,
            server_id=request.server.id,
            database_id=request.database.id,
            blob_name=request.blob_name,
            options=PipelineOptions.from_settings(request.services.settings),
            progress=request.progress,
            encryption=request.encryption,
            placement=request.placement,
            cancel=request.cancel,
        )


@lru_cache(maxsize=4)
def backup_worker(path: str | None) -> BackupWorker:
    """The worker named by BACKUP_WORKER, else the real pipeline."""
    if not path:
        return PipelineWorker()
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError("BACKUP_WORKER must look like 'package.module:attribute'")
    if not module_name.startswith("tests."):
        raise ValueError("BACKUP_WORKER may only name a test double (a tests.* module)")
    found = getattr(importlib.import_module(module_name), attribute)
    for method in ("check_connection", "dump"):
        if not callable(getattr(found, method, None)):
            raise ValueError(f"BACKUP_WORKER has no {method}()")
    return found
