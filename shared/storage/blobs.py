"""A small blob-store seam for backup files, and its Azure Blob Storage implementation.

The pipeline only needs a handful of operations: stage blocks, commit them once (never over
an existing blob), stream a blob back, and a few housekeeping calls. Keeping them behind
this protocol lets tests and benchmarks swap the store without touching the pipeline.

The product's store (`backup_store`) creates its container on first use, once per process,
so a fresh storage account (Azurite, or an account made without the template) just works.
A container that is missing all the same is reported as such, never as a missing blob.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobClient,
    BlobImmutabilityPolicyMode,
    BlobServiceClient,
    ContainerClient,
    ImmutabilityPolicy,
    StandardBlobTier,
)

from shared.storage.clients import DEFAULT_READ_CHUNK, blob_client_options, blob_service_client

# Blob index tags allow only these characters, 256 per value, 10 per blob.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9 +\-./:=_]")
_MAX_TAGS = 10

log = logging.getLogger(__name__)

# Reads: ranges of one GET each, two of them downloading ahead of the reader.
READ_RANGE = DEFAULT_READ_CHUNK
READ_AHEAD = 2

# Containers this process created or found (by URL): one create request per process.
_ready: set[str] = set()
_ready_lock = threading.Lock()


class BlobStoreError(Exception):
    """Storage failed (unreachable, refused, throttled beyond retries)."""


class BlobNotFound(BlobStoreError):
    pass


class BlobAlreadyExists(BlobStoreError):
    pass


class ContainerNotFound(BlobStoreError):
    """The container itself is missing (not one blob in it)."""


class BlobArchived(BlobStoreError):
    """The blob is in the Archive tier: it must be rehydrated (hours) before it is read."""


class BlobProtected(BlobStoreError):
    """A legal hold or an unexpired immutability policy forbids deleting or changing it."""


class StorageFeatureMissing(BlobStoreError):
    """The storage does not implement an operation we rely on (Azurite: immutability
    policies and legal holds). Never ignored: what we asked for did not happen."""


@dataclass(frozen=True)
class BlobPlacement:
    """How a backup blob is stored: its access tier and, for tiers kept long, a
    version-level immutability policy (locked: nobody can shorten or remove it)."""

    access_tier: str | None = None  # hot, cool, cold or archive
    immutable_until: datetime | None = None
    immutability_locked: bool = True


@dataclass(frozen=True)
class BlobInfo:
    name: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    access_tier: str | None = None  # lower case; None when the service did not say
    archive_status: str | None = None  # e.g. rehydrate-pending-to-hot
    immutable_until: datetime | None = None
    legal_hold: bool = False

    @property
    def archived(self) -> bool:
        return self.access_tier == "archive"


class BlobStore(Protocol):
    def stage_block(self, name: str, block_id: str, data: bytes) -> None: ...

    def commit_blocks(
        self,
        name: str,
        block_ids: list[str],
        *,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        placement: BlobPlacement | None = None,
    ) -> None:
        """Makes the blob visible; BlobAlreadyExists if a blob of that name exists. With a
        placement, the blob is born in its access tier and under its immutability policy."""
        ...

    def read_chunks(self, name: str) -> Iterator[bytes]:
        """The blob in order, in chunks of a few MiB (memory stays bounded)."""
        ...

    def upload(self, name: str, data: bytes, *, metadata: dict[str, str] | None = None) -> None:
        """Writes a small blob in one request; BlobAlreadyExists if it exists."""
        ...

    def exists(self, name: str) -> bool: ...

    def info(self, name: str, *, with_tags: bool = False) -> BlobInfo:
        """Size and metadata in one request; BlobNotFound if absent. The index tags cost
        a second request, so they are read (into BlobInfo.tags) only when asked."""
        ...

    def delete(self, name: str) -> None: ...

    def set_tags(self, name: str, tags: dict[str, str]) -> None: ...

    def set_metadata(self, name: str, metadata: dict[str, str]) -> None: ...

    def uncommitted_block_count(self, name: str) -> int: ...

    def set_access_tier(self, name: str, tier: str) -> None: ...

    def set_legal_hold(self, name: str, hold: bool) -> None: ...

    def set_immutability(self, name: str, until: datetime, *, locked: bool = True) -> None:
        """Puts a committed blob under a version-level time-based immutability policy
        until `until`, and reads it back; StorageFeatureMissing if the storage did not."""
        ...

    def supports_immutability(self) -> bool:
        """Whether the container has version-level immutability support (without it,
        no blob in it can be given a policy)."""
        ...


def block_id(index: int) -> str:
    """Every block id of one blob must have the same length: a zero-padded counter."""
    return base64.b64encode(f"block-{index:010d}".encode()).decode()


def safe_tags(tags: dict[str, str]) -> dict[str, str]:
    """Index tags restricted to the characters and sizes Blob Storage accepts."""
    cleaned = {
        _TAG_UNSAFE.sub("_", key)[:128]: _TAG_UNSAFE.sub("_", value)[:256]
        for key, value in tags.items()
    }
    return dict(list(cleaned.items())[:_MAX_TAGS])


def safe_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """Metadata travels as HTTP headers: printable ASCII only, kept short."""
    return {
        key: "".join(ch if " " <= ch <= "~" else "_" for ch in value)[:1024]
        for key, value in metadata.items()
    }


def error_code(exc: AzureError) -> str | None:
    """The service's error code: parsed from the body, else the header (a HEAD has no body,
    and the Tables SDK does not parse every body)."""
    code = getattr(exc, "error_code", None)
    if code:
        return str(getattr(code, "value", code))
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return headers.get("x-ms-error-code")


def _fail(exc: AzureError, action: str, name: str, container: str) -> BlobStoreError:
    code = error_code(exc)
    if code == "BlobArchived":
        return BlobArchived(
            f"blob {name!r} is in the Archive tier: rehydrate it first (POST .../rehydrate); "
            "rehydration takes up to 15 hours (1 hour at high priority for small blobs)"
        )
    if isinstance(code, str) and code.startswith("BlobImmutable"):
        return BlobProtected(
            f"blob {name!r} is protected ({code}): a legal hold or an immutability policy "
            "forbids it"
        )
    if getattr(exc, "status_code", None) == 501:
        return StorageFeatureMissing(
            f"the storage does not implement what was asked to {action} {name!r} "
            "(Azurite implements no immutability policies or legal holds)"
        )
    if isinstance(exc, ResourceNotFoundError):
        if error_code(exc) == "ContainerNotFound":
            return ContainerNotFound(f"container {container!r} does not exist")
        return BlobNotFound(f"blob {name!r} not found")
    if isinstance(exc, ResourceExistsError | ResourceModifiedError):
        return BlobAlreadyExists(f"blob {name!r} already exists; it is never overwritten")
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return BlobStoreError(f"storage failed to {action} {name!r}: {reason}")


class AzureBlobStore:
    """Blob store on one Azure Blob Storage container. With `create_container`, the
    container is created before the first request this process makes to it, and again
    after a request found it missing (someone deleted it)."""

    def __init__(self, container: ContainerClient, *, create_container: bool = False) -> None:
        self._container = container
        self._creates = create_container

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container: str, **client_options: Any
    ) -> AzureBlobStore:
        service = BlobServiceClient.from_connection_string(
            connection_string, **blob_client_options(**client_options)
        )
        return cls(service.get_container_client(container))

    def _blob(self, name: str) -> BlobClient:
        if self._creates and self._container.url not in _ready:
            self._ensure_container()
        return self._container.get_blob_client(name)

    def _ensure_container(self) -> None:
        with _ready_lock:
            if self._container.url in _ready:
                return
            try:
                self.create_container()
            except BlobStoreError as exc:
                if not _forbidden(exc.__cause__):
                    raise
                # An identity allowed to use the container but not to create it (a role
                # scoped to the container): go on; a missing one is reported when used.
                log.warning("not allowed to create container %r", self._container.container_name)
            _ready.add(self._container.url)

    def _fail(self, exc: AzureError, action: str, name: str) -> BlobStoreError:
        error = _fail(exc, action, name, self._container.container_name)
        if isinstance(error, ContainerNotFound):
            with _ready_lock:  # deleted since: the next request creates it again
                _ready.discard(self._container.url)
        return error

    def create_container(self) -> None:
        """Creates the container; one that exists already is fine."""
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            name = self._container.container_name
            raise _fail(exc, "create container", name, name) from exc

    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        try:
            self._blob(name).stage_block(block_id, data, length=len(data))
        except AzureError as exc:
            raise self._fail(exc, "stage a block of", name) from exc

    def commit_blocks(
        self,
        name: str,
        block_ids: list[str],
        *,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        placement: BlobPlacement | None = None,
    ) -> None:
        try:
            self._blob(name).commit_block_list(
                block_ids,
                metadata=safe_metadata(metadata or {}),
                tags=safe_tags(tags or {}) or None,
                match_condition=MatchConditions.IfMissing,
                **_placement_options(placement),
            )
        except AzureError as exc:
            raise self._fail(exc, "commit", name) from exc
        if placement is not None and placement.immutable_until is not None:
            self._confirm_immutable(name)

    def _confirm_immutable(self, name: str) -> None:
        """A storage that takes the policy headers without applying them (Azurite ignores
        them) would leave a blob that only looks protected: it is deleted (it can be, as it
        is not protected) and the commit fails."""
        info = self.info(name)
        if info.immutable_until is not None:
            return
        self.delete(name)
        raise StorageFeatureMissing(
            f"the storage committed {name!r} without its immutability policy (Azurite does "
            "not implement immutability), so it was deleted again; set IMMUTABILITY=off "
            "where the storage cannot protect blobs"
        )

    def read_chunks(self, name: str) -> Iterator[bytes]:
        """The blob in READ_RANGE ranges, READ_AHEAD of them downloading at once ahead of
        the reader (the SDK's chunks() fetches the next range only when asked, so a
        restore would wait for each one in turn). Memory: at most READ_AHEAD ranges
        downloaded or downloading plus the one handed out. Every range is read under the
        etag of the first look: a blob changed meanwhile fails the read."""
        try:
            blob = self._blob(name)
            props = blob.get_blob_properties()
        except AzureError as exc:
            raise self._fail(exc, "read", name) from exc
        size, etag = int(props.size), props.etag

        def fetch(offset: int) -> bytes:
            return blob.download_blob(
                offset=offset,
                length=min(READ_RANGE, size - offset),
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
                max_concurrency=1,
            ).readall()

        offsets = iter(range(0, size, READ_RANGE))
        pool = ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="read-ahead")
        pending: deque[Future[bytes]] = deque()
        try:
            pending.extend(pool.submit(fetch, offset) for offset in islice(offsets, READ_AHEAD))
            while pending:
                chunk = pending.popleft().result()
                for offset in islice(offsets, 1):
                    pending.append(pool.submit(fetch, offset))
                yield chunk
        except ResourceModifiedError as exc:
            raise BlobStoreError(f"blob {name!r} changed while it was read") from exc
        except AzureError as exc:
            raise self._fail(exc, "read", name) from exc
        finally:
            # A reader that stops early does not wait for the ranges still downloading.
            pool.shutdown(wait=False, cancel_futures=True)

    def upload(self, name: str, data: bytes, *, metadata: dict[str, str] | None = None) -> None:
        try:
            self._blob(name).upload_blob(
                data, overwrite=False, metadata=safe_metadata(metadata or {})
            )
        except AzureError as exc:
            raise self._fail(exc, "upload", name) from exc

    def container_exists(self) -> bool:
        """Whether the container is there (a health check: one request)."""
        try:
            return bool(self._container.exists())
        except AzureError as exc:
            raise self._fail(exc, "look up", "the container") from exc

    def exists(self, name: str) -> bool:
        try:
            return bool(self._blob(name).exists())
        except AzureError as exc:
            raise self._fail(exc, "look up", name) from exc

    def info(self, name: str, *, with_tags: bool = False) -> BlobInfo:
        try:
            blob = self._blob(name)
            props = blob.get_blob_properties()
            tags = blob.get_blob_tags() if with_tags else None
        except AzureError as exc:
            raise self._fail(exc, "read properties of", name) from exc
        policy = props.immutability_policy
        return BlobInfo(
            name,
            int(props.size),
            dict(props.metadata or {}),
            dict(tags or {}),
            access_tier=str(props.blob_tier).lower() if props.blob_tier else None,
            archive_status=props.archive_status or None,
            immutable_until=policy.expiry_time if policy else None,
            legal_hold=bool(props.has_legal_hold),
            last_modified=props.last_modified,
        )

    def delete(self, name: str) -> None:
        try:
            self._blob(name).delete_blob()
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise self._fail(exc, "delete", name) from exc

    def set_tags(self, name: str, tags: dict[str, str]) -> None:
        try:
            self._blob(name).set_blob_tags(safe_tags(tags))
        except AzureError as exc:
            raise self._fail(exc, "tag", name) from exc

    def set_metadata(self, name: str, metadata: dict[str, str]) -> None:
        try:
            self._blob(name).set_blob_metadata(safe_metadata(metadata))
        except AzureError as exc:
            raise self._fail(exc, "set metadata of", name) from exc

    def uncommitted_block_count(self, name: str) -> int:
        try:
            _, uncommitted = self._blob(name).get_block_list("uncommitted")
        except ResourceNotFoundError:
            return 0
        except AzureError as exc:
            raise self._fail(exc, "list blocks of", name) from exc
        return len(uncommitted)

    def set_access_tier(self, name: str, tier: str) -> None:
        """Moves the blob to `tier`; out of Archive this starts a rehydration (hours)."""
        try:
            self._blob(name).set_standard_blob_tier(
                _standard_tier(tier), rehydrate_priority="Standard"
            )
        except AzureError as exc:
            raise self._fail(exc, f"set the {tier} tier of", name) from exc

    def set_legal_hold(self, name: str, hold: bool) -> None:
        try:
            self._blob(name).set_legal_hold(hold)
        except AzureError as exc:
            action = "set the legal hold of" if hold else "clear the legal hold of"
            raise self._fail(exc, action, name) from exc

    def set_immutability(self, name: str, until: datetime, *, locked: bool = True) -> None:
        """A separate step after the commit (never on it): the backup activity sets the
        policy only once the blob's record is final and successful, so a backup cancelled
        or settled as failed never leaves a locked blob that no record describes."""
        mode = BlobImmutabilityPolicyMode.LOCKED if locked else BlobImmutabilityPolicyMode.UNLOCKED
        try:
            self._blob(name).set_immutability_policy(
                ImmutabilityPolicy(expiry_time=until, policy_mode=mode)
            )
        except AzureError as exc:
            raise self._fail(exc, "set the immutability policy of", name) from exc
        if self.info(name).immutable_until is None:
            raise StorageFeatureMissing(
                f"the storage accepted an immutability policy on {name!r} but did not apply it"
            )

    def supports_immutability(self) -> bool:
        try:
            found = self._container.get_container_properties()
        except AzureError as exc:
            raise self._fail(exc, "read the properties of", "the container") from exc
        return bool(getattr(found, "immutable_storage_with_versioning_enabled", False))


def _standard_tier(tier: str) -> StandardBlobTier:
    return StandardBlobTier(tier.capitalize())


def _placement_options(placement: BlobPlacement | None) -> dict[str, Any]:
    """The commit's keyword arguments for a placement (the SDK wants its enums)."""
    if placement is None:
        return {}
    options: dict[str, Any] = {}
    if placement.access_tier:
        options["standard_blob_tier"] = _standard_tier(placement.access_tier)
    if placement.immutable_until is not None:
        mode = BlobImmutabilityPolicyMode.LOCKED
        if not placement.immutability_locked:
            mode = BlobImmutabilityPolicyMode.UNLOCKED
        options["immutability_policy"] = ImmutabilityPolicy(
            expiry_time=placement.immutable_until, policy_mode=mode
        )
    return options


def _forbidden(exc: BaseException | None) -> bool:
    return isinstance(exc, HttpResponseError) and exc.status_code == 403


def backup_store(settings: Any) -> AzureBlobStore:
    """The store on the settings' backup container (shared, cached service client), which
    creates the container on first use."""
    service = blob_service_client(settings)
    container = service.get_container_client(settings.backup_container)
    return AzureBlobStore(container, create_container=True)
