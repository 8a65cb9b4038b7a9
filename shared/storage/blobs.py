"""A small blob-store seam for backup files, and its Azure Blob Storage implementation.

The pipeline only needs a handful of operations: stage blocks, commit them once (never over
an existing blob), stream a blob back, and a few housekeeping calls. Keeping them behind
this protocol lets tests and benchmarks swap the store without touching the pipeline.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient

from shared.storage.clients import blob_client_options, blob_service_client

# Blob index tags allow only these characters, 256 per value, 10 per blob.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9 +\-./:=_]")
_MAX_TAGS = 10


class BlobStoreError(Exception):
    """Storage failed (unreachable, refused, throttled beyond retries)."""


class BlobNotFound(BlobStoreError):
    pass


class BlobAlreadyExists(BlobStoreError):
    pass


@dataclass(frozen=True)
class BlobInfo:
    name: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class BlobStore(Protocol):
    def stage_block(self, name: str, block_id: str, data: bytes) -> None: ...

    def commit_blocks(
        self,
        name: str,
        block_ids: list[str],
        *,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Makes the blob visible; BlobAlreadyExists if a blob of that name exists."""
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


def _fail(exc: AzureError, action: str, name: str) -> BlobStoreError:
    if isinstance(exc, ResourceNotFoundError):
        return BlobNotFound(f"blob {name!r} not found")
    if isinstance(exc, ResourceExistsError | ResourceModifiedError):
        return BlobAlreadyExists(f"blob {name!r} already exists; it is never overwritten")
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return BlobStoreError(f"storage failed to {action} {name!r}: {reason}")


class AzureBlobStore:
    """Blob store on one Azure Blob Storage container."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container: str, **client_options: Any
    ) -> AzureBlobStore:
        service = BlobServiceClient.from_connection_string(
            connection_string, **blob_client_options(**client_options)
        )
        return cls(service.get_container_client(container))

    def _blob(self, name: str) -> BlobClient:
        return self._container.get_blob_client(name)

    def create_container(self) -> None:
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise _fail(exc, "create container", self._container.container_name) from exc

    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        try:
            self._blob(name).stage_block(block_id, data, length=len(data))
        except AzureError as exc:
            raise _fail(exc, "stage a block of", name) from exc

    def commit_blocks(
        self,
        name: str,
        block_ids: list[str],
        *,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        try:
            self._blob(name).commit_block_list(
                block_ids,
                metadata=safe_metadata(metadata or {}),
                tags=safe_tags(tags or {}) or None,
                match_condition=MatchConditions.IfMissing,
            )
        except AzureError as exc:
            raise _fail(exc, "commit", name) from exc

    def read_chunks(self, name: str) -> Iterator[bytes]:
        try:
            downloader = self._blob(name).download_blob(max_concurrency=1)
            yield from downloader.chunks()
        except AzureError as exc:
            raise _fail(exc, "read", name) from exc

    def upload(self, name: str, data: bytes, *, metadata: dict[str, str] | None = None) -> None:
        try:
            self._blob(name).upload_blob(
                data, overwrite=False, metadata=safe_metadata(metadata or {})
            )
        except AzureError as exc:
            raise _fail(exc, "upload", name) from exc

    def container_exists(self) -> bool:
        """Whether the container is there (a health check: one request)."""
        try:
            return bool(self._container.exists())
        except AzureError as exc:
            raise _fail(exc, "look up", "the container") from exc

    def exists(self, name: str) -> bool:
        try:
            return bool(self._blob(name).exists())
        except AzureError as exc:
            raise _fail(exc, "look up", name) from exc

    def info(self, name: str, *, with_tags: bool = False) -> BlobInfo:
        try:
            blob = self._blob(name)
            props = blob.get_blob_properties()
            tags = blob.get_blob_tags() if with_tags else None
        except AzureError as exc:
            raise _fail(exc, "read properties of", name) from exc
        return BlobInfo(name, int(props.size), dict(props.metadata or {}), dict(tags or {}))

    def delete(self, name: str) -> None:
        try:
            self._blob(name).delete_blob()
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise _fail(exc, "delete", name) from exc

    def set_tags(self, name: str, tags: dict[str, str]) -> None:
        try:
            self._blob(name).set_blob_tags(safe_tags(tags))
        except AzureError as exc:
            raise _fail(exc, "tag", name) from exc

    def set_metadata(self, name: str, metadata: dict[str, str]) -> None:
        try:
            self._blob(name).set_blob_metadata(safe_metadata(metadata))
        except AzureError as exc:
            raise _fail(exc, "set metadata of", name) from exc

    def uncommitted_block_count(self, name: str) -> int:
        try:
            _, uncommitted = self._blob(name).get_block_list("uncommitted")
        except ResourceNotFoundError:
            return 0
        except AzureError as exc:
            raise _fail(exc, "list blocks of", name) from exc
        return len(uncommitted)


def backup_store(settings: Any) -> AzureBlobStore:
    """The store on the settings' backup container (shared, cached service client)."""
    service = blob_service_client(settings)
    return AzureBlobStore(service.get_container_client(settings.backup_container))
