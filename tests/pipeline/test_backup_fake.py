"""run_backup with a fake dump tool (a real child process) into real Azurite."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import zstandard
from azure.storage.blob import ExponentialRetry

import shared.pipeline.dump as dump_module
from shared.engines.base import (
    Catalogue,
    CatalogueReading,
    ConnectionErrorKind,
    ConnectionSpec,
    EngineError,
    ToolCommand,
)
from shared.pipeline.dump import run_backup
from shared.pipeline.results import BackupFailed, BackupOutcome, PipelineOptions
from shared.storage.blobs import AzureBlobStore, BlobStore, BlobStoreError
from tests.conftest import unique_name
from tests.pipeline.conftest import MARKER, FakeEngine

RAW = 8 * 1024 * 1024


def backup(
    engine: FakeEngine,
    spec: ConnectionSpec,
    store: BlobStore,
    options: PipelineOptions,
    name: str | None = None,
    **kwargs: object,
) -> tuple[str, BackupOutcome]:
    name = name or f"srv/db/{unique_name('b')}.sql.zst"
    outcome = run_backup(
        engine,
        spec,
        store,
        record_id="rec-1",
        server_id="srv",
        database_id="db",
        blob_name=name,
        options=options,
        **kwargs,  # type: ignore[arg-type]
    )
    return name, outcome


def download(store: AzureBlobStore, name: str) -> bytes:
    return b"".join(store.read_chunks(name))


def test_backup_commits_one_blob_with_checksum_and_labels(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    engine = FakeEngine(dump_args=["--bytes", str(RAW), "--marker", MARKER.decode()])
    reports: list[tuple[int, int]] = []
    name, outcome = backup(
        engine, fake_spec, blob_store, small_blocks, progress=lambda r, s: reports.append((r, s))
    )
    stored = download(blob_store, name)
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(stored)
    assert outcome.stored_bytes == len(stored)
    assert outcome.sha256 == hashlib.sha256(stored).hexdigest()
    assert outcome.raw_bytes == len(raw) == RAW + len(MARKER) + 1
    assert raw.endswith(MARKER + b"\n")
    assert outcome.block_count == -(-len(stored) // small_blocks.block_size) > 3
    assert outcome.compression == "zstd-3"
    assert outcome.manifest.server_version == outcome.server_version == "fake-server 1.0"
    info = blob_store.info(name, with_tags=True)
    for labels in (info.metadata, info.tags):
        assert labels["sha256"] == outcome.sha256
        assert labels["raw_bytes"] == str(outcome.raw_bytes)
        assert labels["record_id"] == "rec-1"
        assert labels["database"] == "db"
        assert labels["engine"] == "postgresql"
        assert labels["compression"] == "zstd-3"
        assert labels["tool_version"] == "fake-tool 1.0"
    assert reports[-1] == (outcome.raw_bytes, outcome.stored_bytes)
    assert [r for r, _ in reports] == sorted(r for r, _ in reports)


def test_failing_dump_commits_nothing_and_hides_the_password(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    password = fake_spec.password.get_secret_value()
    stderr = f"connecting with password={password} ... PWD=other;sig=abcd&x=1\nFATAL: it broke\n"
    engine = FakeEngine(dump_args=["--bytes", str(RAW), "--stderr", stderr, "--exit-code", "3"])
    name = f"srv/db/{unique_name('b')}.sql.zst"
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, blob_store, small_blocks, name=name)
    message = failure.value.message
    assert "exited with code 3" in message
    assert "FATAL: it broke" in message
    assert password not in message
    assert "other" not in message and "abcd" not in message
    assert failure.value.reason == "dump"
    assert not blob_store.exists(name)
    # Blocks were staged (the data got that far) but never committed.
    assert blob_store.uncommitted_block_count(name) > 0


def _kill_child_soon(delay: float) -> threading.Thread:
    def kill() -> None:
        time.sleep(delay)
        for child in psutil.Process().children(recursive=True):
            if "fake_tool.py" in " ".join(child.cmdline()):
                child.kill()

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


def test_dump_killed_midway_commits_nothing(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    engine = FakeEngine(dump_args=["--bytes", str(RAW * 4), "--sleep-every", "0.05"])
    killer = _kill_child_soon(1.0)
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, blob_store, small_blocks)
    killer.join()
    assert "killed by signal 9" in failure.value.message
    assert failure.value.reason == "killed"
    assert not list(blob_store._container.list_blobs())


def test_cancel_and_timeout_stop_the_dump(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    engine = FakeEngine(dump_args=["--bytes", str(RAW * 4), "--sleep-every", "0.05"])
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    with pytest.raises(BackupFailed) as cancelled:
        backup(engine, fake_spec, blob_store, small_blocks, cancel=cancel)
    assert cancelled.value.reason == "cancelled"
    quick = small_blocks.model_copy(update={"timeout_seconds": 0.5})
    with pytest.raises(BackupFailed) as timed_out:
        backup(engine, fake_spec, blob_store, quick)
    assert timed_out.value.reason == "timeout"
    assert "time limit" in timed_out.value.message
    assert not list(blob_store._container.list_blobs())
    assert not psutil.Process().children(recursive=True)


class FailingStore:
    """The real store, except that staging fails after `good` blocks."""

    def __init__(self, inner: AzureBlobStore, good: int) -> None:
        self._inner = inner
        self._good = good
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        with self._lock:
            self._good -= 1
            fail = self._good < 0
        if fail:
            raise BlobStoreError("storage failed to stage a block: injected")
        self._inner.stage_block(name, block_id, data)


def test_storage_failure_stops_the_dump_and_commits_nothing(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    engine = FakeEngine(dump_args=["--bytes", str(RAW * 8)])
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, FailingStore(blob_store, good=2), small_blocks)  # type: ignore[arg-type]
    assert failure.value.reason == "storage"
    assert "injected" in failure.value.message
    assert not list(blob_store._container.list_blobs())
    assert not psutil.Process().children(recursive=True)


def test_unreachable_storage_is_a_clear_failure(
    fake_spec: ConnectionSpec, small_blocks: PipelineOptions, storage_connection_string: str
) -> None:
    # Port 1 on the loopback: nothing listens there (whatever port Azurite has).
    wrong = re.sub(
        r"BlobEndpoint=http://127\.0\.0\.1:\d+/",
        "BlobEndpoint=http://127.0.0.1:1/",
        storage_connection_string,
    )
    assert ":1/" in wrong
    store = AzureBlobStore.from_connection_string(
        wrong, "nowhere", retry_policy=ExponentialRetry(retry_total=0), connection_timeout=2
    )
    engine = FakeEngine(dump_args=["--bytes", str(RAW)])
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, store, small_blocks)
    assert failure.value.reason == "storage"
    assert "storage failed to stage a block" in failure.value.message


def test_existing_blob_is_never_overwritten(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    name = f"srv/db/{unique_name('b')}.sql.zst"
    blob_store.upload(name, b"precious")
    engine = FakeEngine(dump_args=["--bytes", "1000"])
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, blob_store, small_blocks, name=name)
    assert failure.value.reason == "exists"
    assert download(blob_store, name) == b"precious"


def test_missing_tool_is_a_clear_failure(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    class NoTool(FakeEngine):
        def dump_command(self, spec, workdir):  # type: ignore[no-untyped-def]
            from contextlib import nullcontext

            from shared.engines.base import ToolCommand

            return nullcontext(ToolCommand(["/nonexistent/pg_dump"]))

    with pytest.raises(BackupFailed) as failure:
        backup(NoTool(), fake_spec, blob_store, small_blocks)
    assert "cannot start pg_dump" in failure.value.message


class SlowCountEngine(FakeEngine):
    """A SnapshotDumper whose row counting takes until it is cancelled (or `seconds`)."""

    def __init__(self, cancellable: bool, seconds: float = 60.0, **fields: object) -> None:
        super().__init__(**fields)  # type: ignore[arg-type]
        self.cancellable = cancellable
        self.seconds = seconds
        self.stopped = threading.Event()

    def _count(self, spec: ConnectionSpec) -> Catalogue:
        self.stopped.wait(self.seconds)
        if self.stopped.is_set():
            raise EngineError(ConnectionErrorKind.UNKNOWN, "canceling statement")
        return self.catalogue(spec)

    @contextmanager
    def dump_with_catalogue(
        self, spec: ConnectionSpec, workdir: Path, *, count_rows: bool = False
    ) -> Iterator[tuple[CatalogueReading, ToolCommand]]:
        with self.dump_command(spec, workdir) as command:
            cancel = self.stopped.set if self.cancellable else None
            yield CatalogueReading(lambda: self._count(spec), cancel=cancel), command


@pytest.mark.parametrize("cancellable", [True, False])
def test_a_failed_dump_does_not_wait_for_a_long_row_count(
    blob_store: AzureBlobStore,
    fake_spec: ConnectionSpec,
    small_blocks: PipelineOptions,
    monkeypatch: pytest.MonkeyPatch,
    cancellable: bool,
) -> None:
    """The dump's own error is reported: a cancellable count is cancelled (its error does not
    replace the dump's), one that cannot be cancelled is left to finish on its own."""
    monkeypatch.setattr(dump_module._Background, "FAILURE_GRACE", 0.2)
    engine = SlowCountEngine(cancellable, dump_args=["--bytes", "1000", "--exit-code", "3"])
    started = time.monotonic()
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, blob_store, small_blocks)
    assert time.monotonic() - started < 10  # not the count's 60 seconds
    assert "exited with code 3" in failure.value.message
    assert engine.stopped.is_set() is cancellable
    engine.stopped.set()  # let an uncancellable count end now


class SnapshotCountEngine(FakeEngine):
    """A SnapshotDumper whose database counts `rows` in the dump's snapshot."""

    def __init__(self, rows: dict[tuple[str | None, str], int], **fields: object) -> None:
        super().__init__(**fields)  # type: ignore[arg-type]
        self.rows = rows
        self.asked: list[bool] = []

    @contextmanager
    def dump_with_catalogue(
        self, spec: ConnectionSpec, workdir: Path, *, count_rows: bool = False
    ) -> Iterator[tuple[CatalogueReading, ToolCommand]]:
        self.asked.append(count_rows)
        rows = self.rows if count_rows else None
        catalogue = Catalogue("fake-server 1.0", "fake-tool 1.0", list(self.rows), rows=rows)
        with self.dump_command(spec, workdir) as command:
            yield CatalogueReading(lambda: catalogue), command


def test_the_snapshot_count_must_agree_with_the_dump(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    """The fake dump holds no COPY block: a table the database counts 3 rows in is a
    difference that fails the backup; one it counts empty agrees (and is listed with 0)."""
    checked = small_blocks.model_copy(update={"snapshot_row_count": True})
    engine = SnapshotCountEngine({("public", "t"): 3}, dump_args=["--bytes", "1000"])
    name = f"srv/db/{unique_name('b')}.sql.zst"
    with pytest.raises(BackupFailed) as failure:
        backup(engine, fake_spec, blob_store, checked, name=name)
    assert failure.value.reason == "manifest"
    assert "t (0 in the dump, 3 in the database)" in failure.value.message
    assert engine.asked == [True]
    assert not blob_store.exists(name)

    unchecked = SnapshotCountEngine({("public", "t"): 3}, dump_args=["--bytes", "1000"])
    backup(unchecked, fake_spec, blob_store, small_blocks)  # the setting is off by default
    assert unchecked.asked == [False]
    agreeing = SnapshotCountEngine({("public", "t"): 0}, dump_args=["--bytes", "1000"])
    _, outcome = backup(agreeing, fake_spec, blob_store, checked)
    assert [(t.schema_name, t.name, t.rows) for t in outcome.manifest.tables] == [
        ("public", "t", 0)
    ]
    assert outcome.row_count_cpu_seconds >= 0
