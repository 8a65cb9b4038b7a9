"""The encryption stage with the fake dump tool: an empty dump, exactly the dump's bytes fed
to the restore tool after decryption, and a storage failure mid-stream committing nothing."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import zstandard

from shared.crypto.age import decrypt_stream, generate_identity
from shared.engines.base import ConnectionSpec
from shared.pipeline.dump import run_backup
from shared.pipeline.encrypt import encryption_to
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import BackupFailed, BackupOutcome, PipelineOptions
from shared.pipeline.verify import verify_backup
from shared.storage.blobs import AzureBlobStore, BlobStoreError
from tests.conftest import unique_name
from tests.pipeline.conftest import MARKER, FakeEngine

KEYS = generate_identity()


def backup(
    store: AzureBlobStore, spec: ConnectionSpec, options: PipelineOptions, *dump_args: str
) -> BackupOutcome:
    return run_backup(
        FakeEngine(dump_args=list(dump_args)), spec, store, record_id="rec", server_id="srv",
        database_id="db", blob_name=f"srv/db/{unique_name('b')}.sql.zst.age", options=options,
        encryption=encryption_to("k1", KEYS[1]),
    )  # fmt: skip


def test_an_empty_dump_is_a_valid_age_file_that_verifies(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    outcome = backup(blob_store, fake_spec, small_blocks)
    assert outcome.raw_bytes == 0 and outcome.stored_bytes > 0
    stored = b"".join(blob_store.read_chunks(outcome.blob_name))
    compressed = io.BytesIO()
    decrypt_stream(io.BytesIO(stored), compressed, [KEYS[0]])
    assert compressed.getvalue().startswith(b"\x28\xb5\x2f\xfd")  # one (empty) zstd frame
    verified = verify_backup(
        blob_store, outcome.blob_name, outcome.sha256, None, encrypted=True, identity=KEYS[0]
    )
    assert verified.ok and verified.raw_bytes == 0


def test_restore_feeds_exactly_the_dump_after_decryption(
    blob_store: AzureBlobStore,
    fake_spec: ConnectionSpec,
    small_blocks: PipelineOptions,
    tmp_path: Path,
) -> None:
    args = ("--bytes", str(3 * 1024 * 1024), "--marker", MARKER.decode())
    outcome = backup(blob_store, fake_spec, small_blocks, *args)
    assert outcome.block_count > 1  # several staged blocks of ciphertext
    report = tmp_path / "report.txt"
    engine = FakeEngine(restore_args=["--report", str(report)])
    target = fake_spec.model_copy(update={"database": "restored"})
    restore_backup(
        engine, target, blob_store, outcome.blob_name, outcome.sha256, manifest=None,
        encrypted=True, identity=KEYS[0],
    )  # fmt: skip
    compressed = io.BytesIO()
    decrypt_stream(
        io.BytesIO(b"".join(blob_store.read_chunks(outcome.blob_name))), compressed, [KEYS[0]]
    )
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(compressed.getvalue())
    assert len(raw) == outcome.raw_bytes and raw.endswith(MARKER + b"\n")
    assert report.read_text().split() == [hashlib.sha256(raw).hexdigest(), str(len(raw))]


class _FailingStore:
    """Azurite underneath, but the second staged block fails (long before the last)."""

    def __init__(self, store: AzureBlobStore) -> None:
        self._store = store
        self.staged = 0
        self.committed = False

    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        self.staged += 1
        if self.staged == 2:
            raise BlobStoreError("storage failed to stage a block: injected")
        self._store.stage_block(name, block_id, data)

    def commit_blocks(self, *args: object, **kwargs: object) -> None:
        self.committed = True


def test_a_storage_failure_mid_stream_commits_nothing(
    blob_store: AzureBlobStore, fake_spec: ConnectionSpec, small_blocks: PipelineOptions
) -> None:
    failing = _FailingStore(blob_store)
    with pytest.raises(BackupFailed, match="injected") as caught:
        backup(failing, fake_spec, small_blocks, "--bytes", str(24 * 1024 * 1024))  # type: ignore[arg-type]
    assert caught.value.reason == "storage"  # the storage error, not a generic age one
    assert not failing.committed
