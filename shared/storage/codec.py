"""Pydantic models as Table Storage entities, and back.

Scalars are stored as columns of their own type (datetimes as UTC, integers as Int64,
enums as their value); nested models, lists and dicts as JSON text in a column named
`<field>_json`. Unset (None) fields are not stored, so writes must replace whole
entities (never merge) or a field set back to None would keep its old value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.data.tables import EdmType, EntityProperty
from pydantic import BaseModel

JSON_SUFFIX = "_json"
# A model carries has_password; a field named like a secret must never reach a table.
_SECRET_WORDS = ("password", "secret", "token", "key")
# Inside free-form dicts (tags, audit details) only the unmistakable words are refused.
_NESTED_SECRET_WORDS = ("password", "secret")
_ALLOWED_SECRET_LOOKALIKES = frozenset({"has_password"})

M = TypeVar("M", bound=BaseModel)


class SecretFieldError(ValueError):
    """A model handed to storage has a field that looks like a secret."""


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_not_secret(name: str, words: tuple[str, ...] = _SECRET_WORDS) -> None:
    lowered = name.lower()
    if lowered in _ALLOWED_SECRET_LOOKALIKES:
        return
    if any(word in lowered for word in words):
        raise SecretFieldError(f"refusing to store field {name!r}: it looks like a secret")


def _check_keys_not_secret(value: Any) -> None:
    """Nested dicts (tags, audit details) must not smuggle a secret in either."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_not_secret(str(key), _NESTED_SECRET_WORDS)
            _check_keys_not_secret(item)
    elif isinstance(value, list):
        for item in value:
            _check_keys_not_secret(item)


def _column(name: str, python_value: Any, json_value: Any) -> tuple[str, Any]:
    if isinstance(python_value, datetime):
        return name, as_utc(python_value)
    if isinstance(json_value, dict | list):
        _check_keys_not_secret(json_value)
        return name + JSON_SUFFIX, json.dumps(json_value, separators=(",", ":"))
    if isinstance(json_value, bool | float | str):
        return name, json_value
    if isinstance(json_value, int):
        return name, EntityProperty(json_value, EdmType.INT64)
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
        column, value = _column(name, python_value, json_values[name])
        entity[column] = value
    return entity


def _plain(value: Any) -> Any:
    if isinstance(value, EntityProperty):
        return value.value
    if isinstance(value, datetime):
        # The SDK's datetime subclass remembers the service's text; hand back a plain one.
        return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=UTC)
    return value


def from_entity(model_type: type[M], entity: dict[str, Any]) -> M:
    """The model stored in `entity`; columns the model does not know are ignored."""
    fields = model_type.model_fields
    values: dict[str, Any] = {}
    for column, raw in entity.items():
        if column.endswith(JSON_SUFFIX) and column.removesuffix(JSON_SUFFIX) in fields:
            values[column.removesuffix(JSON_SUFFIX)] = json.loads(raw)
        elif column in fields:
            values[column] = _plain(raw)
    return model_type.model_validate(values)
