"""`restore_backup`: blob → SHA-256 check → age (when encrypted) → zstd → the restore tool's
stdin, into a target
database that is new (by default) or explicitly allowed to be non-empty; then the target's
tables and row counts are compared with the dump-time manifest. PostgreSQL's counts are
the rows psql's transaction inserted into each table, read by psql itself just before it
commits (the restored tables are not read a second time); MySQL's are count(*) of every
table after the restore (see docs/manifests.md).

The checksum is known only once the whole blob was read, so a mismatch is found after the
data was fed. The tool is then killed before its input ends cleanly (psql restores in one
transaction and rolls back; the MySQL client may have applied part): the restore fails
and says to drop the target. An encrypted blob is authenticated chunk by chunk as it is
fed: a changed or cut-short one stops the restore the same way, before psql's single
transaction can commit.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from shared.crypto.age import DecryptionFailed
from shared.engines.base import (
    ConnectionErrorKind,
    ConnectionSpec,
    DatabaseEngine,
    EngineError,
    ToolCommand,
)
from shared.engines.header_filter import HeaderLineFilter
from shared.engines.registry import is_system_database
from shared.models import DumpManifest
from shared.pipeline.manifests import compare_manifests
from shared.pipeline.process import ToolProcess, Watchdog
from shared.pipeline.results import RestoreFailed, RestoreOutcome
from shared.pipeline.sanitize import sanitize, tail_text
from shared.pipeline.streams import (
    IO_SIZE,
    HashingReader,
    TailWriter,
    checksum_mismatch,
    decompress_blob,
)
from shared.storage.blobs import BlobStore

_EARLY_EXIT = "the restore tool stopped reading its input before the end"


@dataclass(frozen=True)
class _Job:
    store: BlobStore
    blob_name: str
    expected_sha256: str
    secrets: list[str]
    timeout_seconds: float
    cancel: threading.Event | None
    identity: str | None = None


def restore_backup(
    engine: DatabaseEngine,
    target_spec: ConnectionSpec,
    store: BlobStore,
    blob_name: str,
    expected_sha256: str,
    *,
    manifest: DumpManifest | None,
    allow_non_empty: bool = False,
    create: bool = True,
    timeout_seconds: float = 7200,
    cancel: threading.Event | None = None,
    encrypted: bool = False,
    identity: str | None = None,
    recount: bool = False,
) -> RestoreOutcome:
    """Restores `blob_name` into `target_spec.database`; raises RestoreFailed on any failure.
    An encrypted blob needs the `identity` it was encrypted to. The comparison takes the
    rows the restore tool's transaction inserted where the engine reports them (PostgreSQL),
    else, or with `recount`, counts every restored table once the restore committed."""
    if is_system_database(target_spec.database):
        raise RestoreFailed(
            f"{target_spec.database!r} is a system database: never a restore target",
            reason="system_database",
        )
    started = time.monotonic()
    if encrypted and identity is None:
        raise RestoreFailed("the backup is encrypted and its key is not available", reason="no_key")
    secrets = [target_spec.password.get_secret_value()]
    job = _Job(
        store, blob_name, expected_sha256, secrets, timeout_seconds, cancel,
        identity if encrypted else None,
    )  # fmt: skip
    try:
        _prepare_target(engine, target_spec, allow_non_empty=allow_non_empty, create=create)
        with (
            tempfile.TemporaryDirectory(prefix="dilux-restore-") as workdir,
            engine.restore_command(target_spec, Path(workdir)) as command,
        ):
            reader, writer, output = _feed(command, job)
        actual = None
        if manifest is not None:
            reported = None if recount else output
            actual = engine.restored_manifest(target_spec, reported)
    except EngineError as exc:
        message = f"restore failed: {sanitize(exc.message, secrets)}"
        raise RestoreFailed(message, reason=str(exc.kind)) from None
    return RestoreOutcome(
        blob_name=blob_name,
        target_database=target_spec.database,
        raw_bytes=writer.raw_bytes,
        stored_bytes=reader.stored_bytes,
        sha256=reader.hexdigest(),
        duration_seconds=time.monotonic() - started,
        tables_compared=len(manifest.tables) if manifest else 0,
        differences=compare_manifests(manifest, actual) if manifest and actual else [],
        compared=manifest is not None,
    )


def _prepare_target(
    engine: DatabaseEngine, spec: ConnectionSpec, *, allow_non_empty: bool, create: bool
) -> None:
    """Creates the target when missing; refuses a non-empty one unless explicitly allowed."""
    try:
        empty = engine.is_empty(spec)
    except EngineError as exc:
        if exc.kind != ConnectionErrorKind.DATABASE_MISSING or not create:
            raise
        engine.create_database(spec)
        return
    if not empty and not allow_non_empty:
        raise RestoreFailed(
            f"target database {spec.database!r} is not empty; refusing to restore over it "
            "(restore into a new database, or allow a non-empty target explicitly)",
            reason="target_not_empty",
        )


def _feed(command: ToolCommand, job: _Job) -> tuple[HashingReader, TailWriter, bytes | None]:
    """Feeds the blob to the restore tool; returns the reader, the writer and what the
    tool printed after its output marker (None without one)."""
    tool_name = Path(command.argv[0]).name
    try:
        tool = ToolProcess(command, feed_stdin=True)
    except OSError as exc:
        raise RestoreFailed(f"cannot start {tool_name}: {exc.strerror}", reason="tool") from None
    assert tool.process.stdin is not None
    stdin = io.BufferedWriter(tool.process.stdin, IO_SIZE)  # type: ignore[arg-type]
    reader = HashingReader(job.store.read_chunks(job.blob_name))
    forward = _HeaderDropper(command.input_filter(), stdin)
    writer = TailWriter(keep=0, forward=forward)  # type: ignore[arg-type]
    try:
        with Watchdog(lambda _: tool.kill(), job.timeout_seconds, job.cancel) as watchdog:
            problem = _pump(reader, writer, job)
            if problem is not None and problem != _EARLY_EXIT:
                # Killed before stdin closes: the tool never sees a clean end of its input.
                tool.kill()
                tool.finish()
                raise RestoreFailed(problem, reason="corrupt")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                stdin.close()
            code = tool.finish()
    finally:
        tool.close()
    if watchdog.fired or code != 0 or problem == _EARLY_EXIT:
        raise _tool_failure(tool, tool_name, watchdog.fired, code, job.secrets)
    return reader, writer, tool.output.text if tool.output is not None else None


class _HeaderDropper:
    """Writes the decompressed dump on as the restore command shapes it: its own first
    line (psql's `\\restrict`), less the lines it names (e.g. a setting an older target
    server does not know, the dump's own `\\restrict`), then its own last lines."""

    def __init__(self, input_filter: HeaderLineFilter, forward: BinaryIO) -> None:
        self._filter = input_filter
        self._forward = forward

    def write(self, data: bytes) -> int:
        ready = self._filter.feed(data)
        if ready:
            self._forward.write(ready)
        return len(data)

    def flush(self) -> None:
        rest = self._filter.flush()
        if rest:
            self._forward.write(rest)
        self._forward.flush()


def _pump(reader: HashingReader, writer: TailWriter, job: _Job) -> str | None:
    """Feeds the whole blob; returns why the restore must fail, or None."""
    try:
        unreadable = decompress_blob(reader, writer, job.blob_name, job.identity)
    except zstandard.ZstdError as exc:
        return (
            f"the blob is corrupted ({exc}); part of it was already fed to the restore, "
            "which was stopped: drop the target database"
        )
    except DecryptionFailed as exc:
        return (
            f"the blob does not decrypt ({exc}); the restore was stopped before the end of "
            "its input (PostgreSQL rolls it back; a MySQL target may hold part: drop it)"
        )
    except (BrokenPipeError, ConnectionResetError):
        return _EARLY_EXIT  # the tool's exit code and stderr say why
    if unreadable is not None:
        return unreadable
    mismatch = checksum_mismatch(reader.hexdigest(), job.expected_sha256)
    if mismatch is not None:
        return (
            f"{mismatch}; its data was already fed to the restore, which was "
            "stopped before finishing: drop the target database"
        )
    return None


def _tool_failure(
    tool: ToolProcess, tool_name: str, stopped: str | None, code: int, secrets: list[str]
) -> RestoreFailed:
    if stopped:
        what = f"stopped: {stopped}"
    elif code != 0:
        what = f"{tool_name} exited with code {code}"
    else:
        what = _EARLY_EXIT
    stderr = tail_text(tool.stderr_tail(), secrets)
    return RestoreFailed(f"restore failed: {what}; stderr: {stderr}", reason="restore_tool")
