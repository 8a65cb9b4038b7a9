"""Repositories of the catalog: servers, databases and policies.

Each kind lives in one partition of its own table (row key = id): the catalog holds
hundreds of rows, not millions, and one partition gives ordered paging by id.
Read-modify-write goes through `get_with_etag` + `update(model, etag)`, which fails
with ConcurrencyConflict if someone else wrote in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from azure.data.tables import TableServiceClient

from shared.models import Database, Policy, Server
from shared.storage.codec import from_entity, to_entity
from shared.storage.tables import (
    EntityTable,
    Page,
    check_page_size,
    decode_token,
    encode_token,
    is_valid_id,
)

M = TypeVar("M", Server, Database, Policy)

DEFAULT_PAGE_SIZE = 100
SDK_TOKEN_KEYS = frozenset({"PartitionKey", "RowKey"})


def stamped(model: M, now: datetime | None = None) -> M:
    """The model with updated_at set to now and created_at kept (or set on first write)."""
    moment = now or datetime.now(UTC)
    return model.model_copy(update={"created_at": model.created_at or moment, "updated_at": moment})


class CatalogRepository(Generic[M]):
    model_type: ClassVar[type[Any]]
    table_suffix: ClassVar[str]
    partition: ClassVar[str]

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.table = EntityTable(service, f"{prefix}{self.table_suffix}")

    def _entity(self, model: M) -> dict[str, Any]:
        return to_entity(model, self.partition, model.id)

    def get(self, id: str) -> M | None:
        if not is_valid_id(id):
            return None
        entity = self.table.get(self.partition, id)
        return None if entity is None else from_entity(self.model_type, entity)

    def get_with_etag(self, id: str) -> tuple[M, str] | None:
        if not is_valid_id(id):
            return None
        found = self.table.get_with_etag(self.partition, id)
        if found is None:
            return None
        entity, etag = found
        return from_entity(self.model_type, entity), etag

    def create(self, model: M) -> M:
        """Stores a new model; AlreadyExists if the id is taken."""
        model = stamped(model)
        self.table.create(self._entity(model))
        return model

    def upsert(self, model: M) -> M:
        """Stores the model whether or not it exists (last writer wins)."""
        model = stamped(model)
        self.table.upsert(self._entity(model))
        return model

    def update(self, model: M, etag: str) -> M:
        """Replaces the model read at `etag`; ConcurrencyConflict or NotFound otherwise."""
        model = stamped(model)
        self.table.update(self._entity(model), etag)
        return model

    def delete(self, id: str) -> bool:
        if not is_valid_id(id):
            return False
        return self.table.delete(self.partition, id)

    def list(self, page_size: int = DEFAULT_PAGE_SIZE, continuation: str | None = None) -> Page[M]:
        return self._page("PartitionKey eq @pk", {}, page_size, continuation)

    def all(self) -> Iterator[M]:
        """Every model, by id (sweeps such as the scheduler's; the API pages instead)."""
        for entity in self.table.query_all("PartitionKey eq @pk", {"pk": self.partition}):
            yield from_entity(self.model_type, entity)

    def _page(
        self, query: str, parameters: dict[str, Any], page_size: int, continuation: str | None
    ) -> Page[M]:
        check_page_size(page_size)
        start = decode_token(continuation, SDK_TOKEN_KEYS)
        page = self.table.query_page(query, {"pk": self.partition, **parameters}, page_size, start)
        items = [from_entity(self.model_type, entity) for entity in page.entities]
        return Page[self.model_type](items=items, continuation=encode_token(page.continuation))


class ServerRepository(CatalogRepository[Server]):
    model_type = Server
    table_suffix = "servers"
    partition = "server"


class PolicyRepository(CatalogRepository[Policy]):
    model_type = Policy
    table_suffix = "policies"
    partition = "policy"


class DatabaseRepository(CatalogRepository[Database]):
    model_type = Database
    table_suffix = "databases"
    partition = "database"

    def list_by_server(
        self,
        server_id: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Database]:
        query = "PartitionKey eq @pk and server_id eq @server_id"
        return self._page(query, {"server_id": server_id}, page_size, continuation)

    def list_by_policy(
        self,
        policy_id: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Database]:
        """Databases whose own policy override is `policy_id` (not those inheriting it)."""
        query = "PartitionKey eq @pk and policy_id eq @policy_id"
        return self._page(query, {"policy_id": policy_id}, page_size, continuation)

    def all_by_server(self, server_id: str) -> Iterator[Database]:
        query = "PartitionKey eq @pk and server_id eq @server_id"
        parameters = {"pk": self.partition, "server_id": server_id}
        for entity in self.table.query_all(query, parameters):
            yield from_entity(Database, entity)
