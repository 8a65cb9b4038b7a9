"""A small layer over one Azure table: lazy creation, typed errors, one-page queries.

A table is created on its first use in a process (one request), and again when a request
finds it missing (deleted since): a missing table is never taken for a missing entity.

Filters are always written with `@name` placeholders and their values passed as
`parameters`, which the SDK quotes; nothing from a caller is spliced into a filter.
The SDK substitutes placeholders word by word, so each `@name` stands alone between
spaces (never directly inside parentheses).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline import PipelineResponse
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from pydantic import BaseModel, Field

from shared.models import ID_PATTERN
from shared.storage.codec import as_utc

T = TypeVar("T")
R = TypeVar("R")

MAX_PAGE_SIZE = 1000  # the most Table Storage returns in one response
# A query page may come back empty with a continuation (partition boundaries, time
# limits); follow that many before handing an empty page to the caller.
_EMPTY_PAGES_FOLLOWED = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = 10**18 - 1
_ID = re.compile(ID_PATTERN)


class StorageError(Exception):
    """Base of the errors repositories raise."""


class AlreadyExists(StorageError):
    """Create of something that exists (HTTP 409)."""


class NotFound(StorageError):
    """Update or delete of something that does not exist (HTTP 404)."""


class ConcurrencyConflict(StorageError):
    """The entity changed since it was read (HTTP 412): read again and retry."""


class InvalidContinuation(StorageError, ValueError):
    """A continuation token that we did not issue (HTTP 400)."""


class Page(BaseModel, Generic[T]):
    items: list[T] = Field(default_factory=list)
    continuation: str | None = None


def encode_token(value: dict[str, Any] | None) -> str | None:
    """An opaque URL-safe string for a continuation we hand out."""
    if not value:
        return None
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str | None, keys: frozenset[str]) -> dict[str, Any] | None:
    """The continuation behind `token`; InvalidContinuation unless it has exactly `keys`."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidContinuation("continuation token is not valid") from exc
    if not isinstance(value, dict) or set(value) != keys:
        raise InvalidContinuation("continuation token is not valid")
    if not all(item is None or isinstance(item, str) for item in value.values()):
        raise InvalidContinuation("continuation token is not valid")
    return value


def is_valid_id(value: str) -> bool:
    """Ids outside our alphabet cannot exist, so lookups of them find nothing."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_page_size(page_size: int) -> int:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    return page_size


def newest_first_key(moment: datetime, unique: str) -> str:
    """A row key that sorts later moments first: inverted microseconds, then `unique`."""
    delta = as_utc(moment) - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{_MAX_MICROS - micros:018d}-{unique}"


@dataclass(frozen=True)
class QueryPage:
    entities: list[dict[str, Any]]
    continuation: dict[str, str] | None


_created: set[tuple[str, str]] = set()
_created_lock = threading.Lock()


def _table_missing(exc: AzureError) -> bool:
    from shared.storage.blobs import error_code

    return isinstance(exc, ResourceNotFoundError) and error_code(exc) == "TableNotFound"


class EntityTable:
    """One table, created on first use (once per process)."""

    def __init__(self, service: TableServiceClient, name: str) -> None:
        self.name = name
        self._service = service
        self._client: TableClient = service.get_table_client(name)

    @property
    def _key(self) -> tuple[str, str]:
        return self._service.url, self.name

    def _table(self) -> TableClient:
        if self._key not in _created:
            with _created_lock:
                if self._key not in _created:
                    self._service.create_table_if_not_exists(self.name)
                    _created.add(self._key)
        return self._client

    def _call(self, request: Callable[[TableClient], R]) -> R:
        """Runs one request; if the table went missing since it was created, creates it
        again and repeats the request once."""
        try:
            return request(self._table())
        except AzureError as exc:
            if not _table_missing(exc):
                raise
            with _created_lock:
                _created.discard(self._key)
        return request(self._table())

    def get(self, partition_key: str, row_key: str) -> dict[str, Any] | None:
        found = self.get_with_etag(partition_key, row_key)
        return None if found is None else found[0]

    def get_with_etag(self, partition_key: str, row_key: str) -> tuple[dict[str, Any], str] | None:
        try:
            entity = self._call(lambda table: table.get_entity(partition_key, row_key))
        except ResourceNotFoundError:
            return None
        return dict(entity), entity.metadata["etag"]

    def create(self, entity: dict[str, Any]) -> None:
        try:
            self._call(lambda table: table.create_entity(entity))
        except ResourceExistsError as exc:
            raise AlreadyExists(f"{entity['RowKey']} already exists") from exc

    def upsert(self, entity: dict[str, Any]) -> None:
        self._call(lambda table: table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    def update(self, entity: dict[str, Any], etag: str) -> None:
        """Replaces the entity only if it is still at `etag`."""
        try:
            self._call(
                lambda table: table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            )
        except ResourceNotFoundError as exc:
            raise NotFound(f"{entity['RowKey']} does not exist") from exc
        except ResourceModifiedError as exc:
            raise ConcurrencyConflict(f"{entity['RowKey']} was changed meanwhile") from exc

    def delete(self, partition_key: str, row_key: str) -> bool:
        """True if the entity existed, in one round trip. The SDK swallows the 404 of a
        missing entity, so the final response's status tells: 204 deleted, 404 absent."""
        statuses: list[int] = []

        def note_status(response: PipelineResponse) -> None:
            statuses.append(response.http_response.status_code)

        self._call(
            lambda table: table.delete_entity(partition_key, row_key, raw_response_hook=note_status)
        )
        return bool(statuses) and statuses[-1] == 204

    def query_page(
        self,
        query_filter: str,
        parameters: dict[str, Any],
        page_size: int,
        continuation: dict[str, str] | None = None,
    ) -> QueryPage:
        """One page of entities matching the filter, and where the next page starts."""
        check_page_size(page_size)
        for _ in range(_EMPTY_PAGES_FOLLOWED):
            entities, continuation = self._one_page(
                query_filter, parameters, page_size, continuation
            )
            if entities or continuation is None:
                break
        return QueryPage(entities, continuation)

    def _one_page(
        self,
        query_filter: str,
        parameters: dict[str, Any],
        page_size: int,
        continuation: dict[str, str] | None,
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        def first_page(table: TableClient) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
            pages = table.query_entities(
                query_filter, parameters=parameters, results_per_page=page_size
            ).by_page(continuation_token=continuation)
            try:
                page = next(pages)
            except StopIteration:
                return [], None
            return [dict(entity) for entity in page], pages.continuation_token

        return self._call(first_page)

    def first_partition_key(self) -> str | None:
        """The smallest partition key in the table (tables list in key order)."""
        entities = self._entities(
            lambda table: table.list_entities(results_per_page=1, select=["PartitionKey"])
        )
        for entity in entities:
            return entity["PartitionKey"]
        return None

    def query_all(self, query_filter: str, parameters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every matching entity (internal sweeps; the API pages instead)."""
        entities = self._entities(
            lambda table: table.query_entities(query_filter, parameters=parameters)
        )
        for entity in entities:
            yield dict(entity)

    def query_with_etags(
        self, query_filter: str, parameters: dict[str, Any], page_size: int = 1
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Matching entities with their etags, `page_size` per request: a lookup that
        wants the first match (a unique column) stops the server at it, and needs no
        second read for the etag (query results carry it like point reads do)."""
        check_page_size(page_size)
        entities = self._entities(
            lambda table: table.query_entities(
                query_filter, parameters=parameters, results_per_page=page_size
            )
        )
        for entity in entities:
            yield dict(entity), entity.metadata["etag"]

    def _entities(self, query: Callable[[TableClient], Any]) -> Iterator[Any]:
        """The entities a query yields; a table found missing is created again, and is
        then empty."""
        try:
            yield from query(self._table())
        except AzureError as exc:
            if not _table_missing(exc):
                raise
            with _created_lock:
                _created.discard(self._key)
            self._table()
