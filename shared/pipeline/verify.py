"""`verify_backup`: the stored blob hashes to its recorded SHA-256, decrypts (when encrypted)
and decompresses to the end, and ends with the dump tool's own completion marker (so the
dump was not cut short). An encrypted blob whose key is not at hand is only hashed: the
checksum needs no key, but the backup is not called good."""

from __future__ import annotations

import time

import zstandard

from shared.crypto.age import DecryptionFailed
from shared.pipeline.results import VerifyOutcome
from shared.pipeline.streams import (
    HashingReader,
    TailWriter,
    checksum_mismatch,
    decompress_blob,
    drain,
)
from shared.storage.blobs import BlobStore

# The markers sit in the dump's last lines; newer pg_dump adds an \unrestrict line after.
TAIL_BYTES = 4096


def verify_backup(
    store: BlobStore,
    blob_name: str,
    expected_sha256: str,
    completion_marker: bytes | None,
    *,
    encrypted: bool = False,
    identity: str | None = None,
    missing_identity: str = "its key is not available",
) -> VerifyOutcome:
    """Streams the blob once with bounded memory; never raises for a bad backup. An
    encrypted blob is decrypted with `identity`; without one only its checksum is checked
    and the outcome is not ok (`missing_identity` says why there is no key)."""
    started = time.monotonic()
    reader = HashingReader(store.read_chunks(blob_name))
    tail = TailWriter(TAIL_BYTES)
    if encrypted and identity is None:
        reason = drain(reader, blob_name)
        sha256 = reader.hexdigest()
        if reason is None:
            reason = checksum_mismatch(sha256, expected_sha256) or (
                "the checksum matches, but the backup is encrypted and "
                f"{missing_identity}: it was not decrypted"
            )
    else:
        reason = _decompress(reader, tail, blob_name, identity if encrypted else None)
        sha256 = reader.hexdigest()
        if reason is None:
            reason = _check(sha256, expected_sha256, tail.tail, completion_marker)
    return VerifyOutcome(
        blob_name=blob_name,
        ok=reason is None,
        stored_bytes=reader.stored_bytes,
        raw_bytes=tail.raw_bytes,
        sha256=sha256,
        reason=reason,
        duration_seconds=time.monotonic() - started,
    )


def _decompress(
    reader: HashingReader, tail: TailWriter, blob_name: str, identity: str | None
) -> str | None:
    try:
        return decompress_blob(reader, tail, blob_name, identity)
    except zstandard.ZstdError as exc:
        return f"the blob is corrupted: it does not decompress ({exc})"
    except DecryptionFailed as exc:
        return f"the blob does not decrypt: {exc}"


def _check(
    sha256: str, expected_sha256: str, tail: bytes, completion_marker: bytes | None
) -> str | None:
    mismatch = checksum_mismatch(sha256, expected_sha256)
    if mismatch is not None:
        return mismatch
    if completion_marker is not None and completion_marker not in tail:
        return (
            f"the dump is incomplete: its completion marker {completion_marker!r} "
            f"is not in its last {TAIL_BYTES} bytes"
        )
    return None
