"""A fast stand-in for the real dump, plugged in at the activity seam (BACKUP_WORKER).

It answers the connection test without a server and "dumps" by committing a small real blob
under the record's blob name (if-none-match, like the pipeline), so everything after the
dump — records, retention deleting blobs — runs for real.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from activities.dump_seam import WorkRequest
from shared.engines.base import ConnectionResult
from shared.models import DumpManifest
from shared.pipeline.results import BackupFailed, BackupOutcome
from shared.storage.blobs import BlobAlreadyExists, block_id


class FakeWorker:
    def check_connection(self, request: WorkRequest) -> ConnectionResult:
        return ConnectionResult(ok=True, server_version="fake-1.0")

    def dump(self, request: WorkRequest) -> BackupOutcome:
        data = f"-- fake dump of {request.database.id} for {request.record.id}\n".encode()
        sha256 = hashlib.sha256(data).hexdigest()
        metadata = {"record_id": request.record.id, "sha256": sha256, "raw_bytes": str(len(data))}
        blobs, placement = request.services.blobs, request.placement
        try:
            if placement is None:
                blobs.upload(request.blob_name, data, metadata=metadata)
            else:  # as the pipeline commits: staged, then with its placement
                blobs.stage_block(request.blob_name, block_id(0), data)
                blobs.commit_blocks(
                    request.blob_name, [block_id(0)], metadata=metadata, placement=placement
                )
        except BlobAlreadyExists as exc:
            raise BackupFailed(str(exc), reason="exists") from None
        manifest = DumpManifest(
            engine=request.server.engine,
            database=request.database.name,
            server_version="fake-1.0",
            tool_version="fake",
        )
        return BackupOutcome(
            blob_name=request.blob_name,
            raw_bytes=len(data),
            stored_bytes=len(data),
            sha256=sha256,
            compression="none",
            tool_version="fake",
            server_version="fake-1.0",
            manifest=manifest,
            duration_seconds=0.0,
            block_count=1,
            access_tier=placement.access_tier if placement else None,
            immutable_until=placement.immutable_until if placement else None,
        )


@dataclass(frozen=True)
class DumpSpan:
    server_id: str
    database_id: str
    started: float  # time.monotonic()
    ended: float


class TimedFakeWorker(FakeWorker):
    """A dump that takes `seconds` (then commits its small real blob), and notes when each
    ran on which server: the fan-out benchmark checks the servers' caps from these spans."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.spans: list[DumpSpan] = []
        self._lock = threading.Lock()

    def dump(self, request: WorkRequest) -> BackupOutcome:
        started = time.monotonic()
        try:
            time.sleep(self.seconds)
            return super().dump(request)
        finally:
            span = DumpSpan(request.server.id, request.database.id, started, time.monotonic())
            with self._lock:
                self.spans.append(span)


FAKE_WORKER = FakeWorker()
TIMED_FAKE_WORKER = TimedFakeWorker()


class ScriptedWorker(FakeWorker):
    """A FakeWorker whose dumps follow `plan`, one step per dump (then "ok"): "transient"
    and "permanent" fail like pg_dump does, "hold" waits until `released` is set or the dump
    is cancelled (then fails as the pipeline does). `dumping` is set while a dump holds."""

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.released = threading.Event()
        self.dumping = threading.Event()

    def reset(self, *plan: str) -> None:
        self.plan = list(plan)
        self.released.clear()
        self.dumping.clear()

    def dump(self, request: WorkRequest) -> BackupOutcome:
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "transient":
            message = "pg_dump: error: connection to server failed: Connection refused"
            raise BackupFailed(f"backup failed, nothing was committed: {message}", reason="dump")
        if step == "permanent":
            message = "pg_dump: error: query failed: ERROR:  permission denied for table items"
            raise BackupFailed(f"backup failed, nothing was committed: {message}", reason="dump")
        if step == "hold":
            self.dumping.set()
            while not self.released.wait(0.05):
                cancel = getattr(request, "cancel", None)
                if cancel is not None and cancel.is_set():
                    stopped = "backup failed, nothing was committed: stopped: it was cancelled"
                    raise BackupFailed(stopped, reason="cancelled")
        return super().dump(request)


SCRIPTED_WORKER = ScriptedWorker()
