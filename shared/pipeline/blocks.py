"""Staged-block upload with bounded memory and bounded concurrency.

Block sizes: blocks start at the configured size and double every 1,000 blocks, up to
512 MiB. With 8 MiB blocks that is 8,000 MiB (~7.8 GiB) of stored data before the first
doubling, 1,000 x (8+16+32+64+128+256) MiB = 504,000 MiB (~492 GiB) after 6,000 blocks,
and 10 TiB of *stored* (already compressed) data in about 25,500 blocks, well under Blob
Storage's 50,000-block cap (the cap is reached only past ~22 TiB stored). SQL dumps
compress 3-5x, so a 10 TB dump stores in roughly 9,000-11,000 blocks.

Memory: run_backup caps the bytes in flight (queued or uploading) with a byte budget of
upload_concurrency x the initial block size (UPLOAD_CONCURRENCY x BLOCK_SIZE_MB: 4 x 8 MiB
= 32 MiB by default); on top of that, one block is being filled. The budget does not
grow with the blocks, so as they double fewer fit in it: with the defaults 4, 2, 1 and 1
blocks are in flight at 8, 16, 32 and 64 MiB. Once a block is as large as the budget
(32 MiB blocks, past 24,000 MiB (~23 GiB) stored with the defaults) uploads go one block
at a time; a block larger than the budget goes alone, so memory is then about two blocks
(one uploading, one being filled): about 1 GiB once blocks reach 512 MiB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from shared.storage.blobs import BlobStore, BlobStoreError, block_id

BLOCKS_PER_DOUBLING = 1000
MAX_BLOCK_SIZE = 512 * 1024 * 1024
MAX_BLOCKS = 50_000


def block_size_for(index: int, initial: int) -> int:
    """The target size of block number `index` (0-based)."""
    doublings = index // BLOCKS_PER_DOUBLING
    return max(initial, min(initial << min(doublings, 32), MAX_BLOCK_SIZE))


class UploadAborted(Exception):
    pass


class _ByteBudget:
    """At most `limit` bytes in flight; a single block larger than the limit may go alone."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, size: int, aborted: Callable[[], bool]) -> None:
        with self._cond:
            while self._used and self._used + size > self._limit:
                if aborted():
                    raise UploadAborted
                self._cond.wait(0.1)
            self._used += size

    def release(self, size: int) -> None:
        with self._cond:
            self._used -= size
            self._cond.notify_all()


class BlockUploader:
    """Stages blocks of one blob concurrently; remembers their ids in order for the commit."""

    def __init__(self, store: BlobStore, blob_name: str, *, concurrency: int, budget: int) -> None:
        self._store = store
        self._blob_name = blob_name
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stage")
        self._budget = _ByteBudget(budget)
        self._futures: list[Future[None]] = []
        self.block_ids: list[str] = []
        self.error: BaseException | None = None
        self.aborted: str | None = None

    def submit(self, data: bytes) -> None:
        """Queues one block; blocks the caller while the byte budget is spent."""
        self.raise_if_failed()
        if len(self.block_ids) >= MAX_BLOCKS:
            raise BlobStoreError(f"the dump needs more than {MAX_BLOCKS} blocks")
        self._budget.acquire(len(data), lambda: self.error is not None or bool(self.aborted))
        index = len(self.block_ids)
        self.block_ids.append(block_id(index))
        future = self._pool.submit(self._stage, self.block_ids[index], data)
        self._futures.append(future)
        self._futures = [f for f in self._futures if not f.done()]

    def _stage(self, block: str, data: bytes) -> None:
        try:
            if self.error is None and not self.aborted:
                self._store.stage_block(self._blob_name, block, data)
        except BaseException as exc:
            if self.error is None:
                self.error = exc
        finally:
            self._budget.release(len(data))

    def abort(self, reason: str) -> None:
        self.aborted = reason

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error
        if self.aborted:
            raise UploadAborted(self.aborted)

    def wait(self) -> None:
        """Waits for every staged block; raises the first storage error."""
        for future in self._futures:
            future.result()
        self.raise_if_failed()

    def close(self) -> None:
        self.abort(self.aborted or "closed")
        self._pool.shutdown(wait=True, cancel_futures=True)
