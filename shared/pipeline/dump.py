"""`run_backup`: one database dumped, compressed, hashed and committed as one blob, or nothing.

The blob is committed only after the dump tool exited 0, its stderr was read to the end
and every block was staged; the commit uses if-none-match so nothing is ever overwritten.
On any failure the tool is killed and no block list is committed: staged blocks stay
invisible and Blob Storage discards them after seven days.

The manifest's row counts come from the dump stream itself (shared/pipeline/row_counts.py),
the table list and versions from the database's catalogue: the database is read once.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import zstandard

from shared.crypto.age import AgeError
from shared.engines.base import (
    Catalogue,
    CatalogueReading,
    ConnectionSpec,
    DatabaseEngine,
    EngineError,
    SnapshotDumper,
    ToolCommand,
)
from shared.models import DumpManifest
from shared.pipeline.blocks import BlockUploader, UploadAborted
from shared.pipeline.compress import BlockSink, compress_stream
from shared.pipeline.encrypt import Encryption
from shared.pipeline.manifests import compare_manifests, dump_manifest
from shared.pipeline.process import ToolProcess, Watchdog
from shared.pipeline.results import BackupFailed, BackupOutcome, PipelineOptions
from shared.pipeline.row_counts import RowCounter, row_counter_for
from shared.pipeline.sanitize import sanitize, tail_text
from shared.storage.blobs import (
    BlobAlreadyExists,
    BlobPlacement,
    BlobStore,
    BlobStoreError,
    StorageFeatureMissing,
)

_SECRET_ENV_WORDS = ("PASS", "PWD", "SECRET", "TOKEN", "KEY")


@dataclass(frozen=True)
class _Streamed:
    raw_bytes: int
    stored_bytes: int
    sha256: str
    block_ids: list[str]


def run_backup(
    engine: DatabaseEngine,
    spec: ConnectionSpec,
    store: BlobStore,
    *,
    record_id: str,
    server_id: str,
    database_id: str,
    blob_name: str,
    options: PipelineOptions,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    encryption: Encryption | None = None,
    placement: BlobPlacement | None = None,
) -> BackupOutcome:
    """Dumps `spec.database` into the blob `blob_name`; raises BackupFailed on any failure.

    `progress(raw_bytes, stored_bytes)` is called about every 8 MiB of dump and at the end;
    setting `cancel` stops the dump like a timeout does (nothing is committed). With
    `encryption` the compressed dump is encrypted (age) before it is hashed and staged;
    `placement` sets the blob's access tier and immutability at commit."""
    recipients = encryption.recipients if encryption else None
    started = time.monotonic()
    secrets = [spec.password.get_secret_value()]
    count_rows = options.snapshot_row_count  # PostgreSQL's second check
    try:
        with (
            tempfile.TemporaryDirectory(prefix="dilux-dump-") as workdir,
            _dump_plan(engine, spec, Path(workdir), count_rows) as (reading, command),
        ):
            secrets += _secret_env_values(command)
            counter = row_counter_for(engine.engine)
            with _Background(reading) as catalogue_reading:
                streamed = _stream(
                    command, store, blob_name, options, progress, cancel, secrets, counter.feed,
                    recipients,
                )  # fmt: skip
            catalogue = catalogue_reading.result()
    except EngineError as exc:
        raise _engine_failure(exc, f"cannot dump database {spec.database!r}", secrets) from None
    manifest = _manifest(engine, spec.database, catalogue, counter)
    compression = f"zstd-{options.compression_level}"
    tool_version = command.tool_version or manifest.tool_version
    labels = {
        "server": server_id,
        "database": database_id,
        "record_id": record_id,
        "sha256": streamed.sha256,
        "raw_bytes": str(streamed.raw_bytes),
        "compression": compression,
        "engine": str(engine.engine),
        "tool_version": tool_version or "",
        "server_version": manifest.server_version,
    }
    extra = encryption.metadata() if encryption else {}
    _commit(store, blob_name, streamed.block_ids, labels, spec.database, extra, placement)
    return BackupOutcome(
        blob_name=blob_name,
        raw_bytes=streamed.raw_bytes,
        stored_bytes=streamed.stored_bytes,
        sha256=streamed.sha256,
        compression=compression,
        tool_version=tool_version,
        server_version=manifest.server_version,
        manifest=manifest,
        duration_seconds=time.monotonic() - started,
        block_count=len(streamed.block_ids),
        encryption="age" if encryption else None,
        identity_id=encryption.identity_id if encryption else None,
        extra_recipients=encryption.extra_recipients if encryption else [],
        access_tier=placement.access_tier if placement else None,
        immutable_until=placement.immutable_until if placement else None,
        row_count_cpu_seconds=counter.cpu_seconds,
    )


@contextmanager
def _dump_plan(
    engine: DatabaseEngine, spec: ConnectionSpec, workdir: Path, count_rows: bool
) -> Iterator[tuple[CatalogueReading, ToolCommand]]:
    """The dump command and how to read the catalogue: in the dump's own snapshot where
    the engine can share it (PostgreSQL, which can then also count the rows there), else
    as the dump starts."""
    if isinstance(engine, SnapshotDumper):
        with engine.dump_with_catalogue(spec, workdir, count_rows=count_rows) as plan:
            yield plan
    else:
        with engine.dump_command(spec, workdir) as command:
            yield CatalogueReading(partial(engine.catalogue, spec)), command


def _manifest(
    engine: DatabaseEngine, database: str, catalogue: Catalogue, counter: RowCounter
) -> DumpManifest:
    """The catalogue's tables with the rows the dump holds; where the database counted
    them too (in the dump's snapshot), both must agree or the backup fails."""
    manifest = dump_manifest(engine.engine, database, catalogue, counter.tables())
    if catalogue.rows is None:
        return manifest
    counted = catalogue.manifest(engine.engine, database, catalogue.rows)
    differences = compare_manifests(counted, manifest)
    if differences:
        listed = ", ".join(
            f"{d.table} ({d.actual_rows} in the dump, {d.expected_rows} in the database)"
            for d in differences[:10]
        )
        raise BackupFailed(
            "backup failed, nothing was committed: the rows counted in the dump differ from "
            f"the database's own count in the same snapshot: {listed}",
            reason="manifest",
        )
    return manifest


class _Background:
    """Reads the catalogue on a thread while the body streams the dump (a few metadata
    reads; with the snapshot count, the database's reading of every table). Leaving after
    a success waits for the reading. Leaving after a failure does not wait for a long count:
    a reading that can be cancelled is; one that cannot is given FAILURE_GRACE to end, then
    left to finish on its own. If the reading had failed by itself, its error wins over the
    body's (a database that cannot be read says so more clearly than the dump tool's exit
    code)."""

    FAILURE_GRACE = 5.0

    def __init__(self, reading: CatalogueReading) -> None:
        self._reading = reading
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalogue")
        self._future: Future[Catalogue] = self._pool.submit(reading.read)

    def __enter__(self) -> _Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self._pool.shutdown(wait=True)
            return
        if self._future.done() or self._reading.cancel is None:
            self._pool.shutdown(wait=False)
            done, _ = wait([self._future], timeout=self.FAILURE_GRACE)
            if done and isinstance(self._future.exception(), EngineError):
                self._future.result()  # raises the clearer error in place of the body's
            return
        self._reading.cancel()  # its error then is ours, not the database's: the body's stands
        self._pool.shutdown(wait=True)

    def result(self) -> Catalogue:
        return self._future.result()


def _engine_failure(exc: EngineError, what: str, secrets: list[str]) -> BackupFailed:
    return BackupFailed(f"{what}: {sanitize(exc.message, secrets)}", reason=str(exc.kind))


def _secret_env_values(command: ToolCommand) -> list[str]:
    return [v for k, v in command.env.items() if any(w in k.upper() for w in _SECRET_ENV_WORDS)]


def _stream(
    command: ToolCommand,
    store: BlobStore,
    blob_name: str,
    options: PipelineOptions,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
    secrets: list[str],
    observe: Callable[[bytes], None],
    recipients: list[str] | None = None,
) -> _Streamed:
    tool_name = Path(command.argv[0]).name
    # Memory bound: at most upload_concurrency x the initial block size in flight. Blocks
    # double (shared/pipeline/blocks.py) but the budget does not, so fewer blocks fit: one
    # at a time once a block is as large as the budget (32 MiB blocks with the defaults,
    # past 24,000 MiB stored); a larger block then goes alone.
    budget = options.upload_concurrency * options.block_size
    uploader = BlockUploader(
        store, blob_name, concurrency=options.upload_concurrency, budget=budget
    )
    try:
        tool = ToolProcess(command)
    except OSError as exc:
        uploader.close()
        raise BackupFailed(f"cannot start {tool_name}: {exc.strerror}", reason="tool") from None
    try:
        return _pump(
            tool, tool_name, uploader, options, progress, cancel, secrets, observe, recipients
        )
    finally:
        tool.close()
        uploader.close()


def _pump(
    tool: ToolProcess,
    tool_name: str,
    uploader: BlockUploader,
    options: PipelineOptions,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
    secrets: list[str],
    observe: Callable[[bytes], None],
    recipients: list[str] | None,
) -> _Streamed:
    def stop(reason: str) -> None:
        tool.kill()
        uploader.abort(reason)

    sink = BlockSink(uploader, options.block_size)
    assert tool.process.stdout is not None
    with Watchdog(stop, options.timeout_seconds, cancel) as watchdog:
        try:
            raw = compress_stream(
                tool.process.stdout,
                sink,
                level=options.compression_level,
                threads=options.compression_threads,
                chunk_size=options.read_chunk_size,
                progress=progress,
                observe=observe,
                recipients=recipients,
            )
            code = tool.finish()
            uploader.wait()
        except (BlobStoreError, UploadAborted, zstandard.ZstdError, OSError, AgeError) as exc:
            tool.kill()
            tool.finish()
            raise _failure(tool, tool_name, exc, watchdog, secrets) from None
    if watchdog.fired or code != 0:
        raise _failure(tool, tool_name, None, watchdog, secrets, code)
    return _Streamed(raw, sink.stored_bytes, sink.hasher.hexdigest(), list(uploader.block_ids))


def _failure(
    tool: ToolProcess,
    tool_name: str,
    exc: BaseException | None,
    watchdog: Watchdog,
    secrets: list[str],
    code: int | None = None,
) -> BackupFailed:
    stopped, kind = watchdog.fired, watchdog.fired_kind
    if stopped and kind:
        reason, what = kind, f"stopped: {stopped}"
    elif isinstance(exc, BlobStoreError):
        reason, what = "storage", str(exc)
    elif exc is not None:
        reason, what = "pipeline", f"{type(exc).__name__}: {exc}"
    elif code is not None and code < 0:
        reason, what = "killed", f"{tool_name} was killed by signal {-code}"
    else:
        reason, what = "dump", f"{tool_name} exited with code {code}"
    stderr = tail_text(tool.stderr_tail(), secrets)
    message = sanitize(what, secrets) + (f"; stderr: {stderr}" if stderr else "")
    return BackupFailed(f"backup failed, nothing was committed: {message}", reason=reason)


def _commit(
    store: BlobStore,
    blob_name: str,
    block_ids: list[str],
    labels: dict[str, str],
    name: str,
    extra: dict[str, str],
    placement: BlobPlacement | None,
) -> None:
    metadata = {**labels, "database_name": name, **extra}
    try:
        store.commit_blocks(
            blob_name, block_ids, metadata=metadata, tags=labels, placement=placement
        )
    except BlobAlreadyExists as exc:
        raise BackupFailed(str(exc), reason="exists") from None
    except StorageFeatureMissing as exc:  # another attempt would be refused the same way
        message = f"backup failed, nothing was committed: {exc}"
        raise BackupFailed(message, reason="not_supported") from None
    except BlobStoreError as exc:
        message = f"backup failed, nothing was committed: {exc}"
        raise BackupFailed(message, reason="storage") from None
