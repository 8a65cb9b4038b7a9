"""Pydantic models as Table Storage entities, and back.

Scalars are stored as columns of their own type (datetimes as UTC, integers as Int64,
enums as their value); nested models, lists and dicts as JSON text in a column named
`<field>_json`. A property holds at most 64 KiB, so JSON or text longer than that
(the manifest of a database with thousands of tables) is zlib-compressed and split
over binary columns `<field>_jsonz0`, `<field>_jsonz1`, ... Unset (None) fields are
not stored, so writes must replace whole entities (never merge) or a field set back
to None would keep its old value.
"""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.data.tables import EdmType, EntityProperty
from pydantic import BaseModel

from shared.secret_names import looks_secret

JSON_SUFFIX = "_json"
CHUNKED = re.compile(r"^(?P<field>.+)_jsonz(?P<index>\d+)$")
# Strings count UTF-16 units against the 64 KiB property limit: stay well below it.
_LONGEST_TEXT = 30_000
_CHUNK_BYTES = 60_000
_LARGEST_COMPRESSED = 900_000  # an entity holds 1 MiB in all
# A field named like a secret must never reach a table (the audit log's list, and any key).
# Models carry these two flags, which name a secret without holding one. Free-form dicts
# (tags, audit details) are not checked here: they are user data, and audit details are
# scrubbed of secret-looking fields by shared/audit.py before this.
_ALLOWED_SECRET_LOOKALIKES = frozenset({"has_password", "use_server_credentials"})

M = TypeVar("M", bound=BaseModel)


class SecretFieldError(ValueError):
    """A model handed to storage has a field that looks like a secret."""


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_not_secret(name: str) -> None:
    lowered = name.lower()
    if lowered in _ALLOWED_SECRET_LOOKALIKES:
        return
    if looks_secret(lowered) or "key" in lowered:
        raise SecretFieldError(f"refusing to store field {name!r}: it looks like a secret")


def _compressed_columns(name: str, text: str) -> dict[str, Any]:
    packed = zlib.compress(text.encode(), 6)
    if len(packed) > _LARGEST_COMPRESSED:
        raise ValueError(f"field {name!r} is too large to store ({len(packed)} bytes compressed)")
    chunks = range(0, len(packed), _CHUNK_BYTES)
    return {
        f"{name}_jsonz{n}": packed[start : start + _CHUNK_BYTES] for n, start in enumerate(chunks)
    }


def _columns(name: str, python_value: Any, json_value: Any) -> dict[str, Any]:
    if isinstance(python_value, datetime):
        return {name: as_utc(python_value)}
    if isinstance(json_value, dict | list):
        text = json.dumps(json_value, separators=(",", ":"))
        if len(text) > _LONGEST_TEXT:
            return _compressed_columns(name, text)
        return {name + JSON_SUFFIX: text}
    if isinstance(json_value, str) and len(json_value) > _LONGEST_TEXT:
        return _compressed_columns(name, json.dumps(json_value))
    if isinstance(json_value, bool | float | str):
        return {name: json_value}
    if isinstance(json_value, int):
        return {name: EntityProperty(json_value, EdmType.INT64)}
    raise TypeError(f"cannot store field {name!r} of type {type(python_value).__name__}")


def to_entity(model: BaseModel, partition_key: str, row_key: str) -> dict[str, Any]:
    """The entity for `model` under the given keys."""
    python_values = model.model_dump()
    json_values = model.model_dump(mode="json")
    entity: dict[str, Any] = {"PartitionKey": partition_key, "RowKey": row_key}
    for name, python_value in python_values.items():
        _check_not_secret(name)
        if python_value is None:
            continue
        entity.update(_columns(name, python_value, json_values[name]))
    return entity


def _plain(value: Any) -> Any:
    if isinstance(value, EntityProperty):
        return value.value
    if isinstance(value, datetime):
        # The SDK's datetime subclass remembers the service's text; hand back a plain one.
        return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=UTC)
    return value


def _unchunked(chunks: dict[str, dict[int, bytes]]) -> dict[str, Any]:
    values = {}
    for field, parts in chunks.items():
        packed = b"".join(parts[index] for index in sorted(parts))
        values[field] = json.loads(zlib.decompress(packed))
    return values


def from_entity(model_type: type[M], entity: dict[str, Any]) -> M:
    """The model stored in `entity`; columns the model does not know are ignored."""
    fields = model_type.model_fields
    values: dict[str, Any] = {}
    chunks: dict[str, dict[int, bytes]] = {}
    for column, raw in entity.items():
        chunked = CHUNKED.match(column)
        if chunked and chunked["field"] in fields:
            chunks.setdefault(chunked["field"], {})[int(chunked["index"])] = _plain(raw)
        elif column.endswith(JSON_SUFFIX) and column.removesuffix(JSON_SUFFIX) in fields:
            values[column.removesuffix(JSON_SUFFIX)] = json.loads(raw)
        elif column in fields:
            values[column] = _plain(raw)
    values.update(_unchunked(chunks))
    return model_type.model_validate(values)
