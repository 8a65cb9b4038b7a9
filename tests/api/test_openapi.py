"""The OpenAPI document: complete for every route, consistent, and without secrets in responses."""

from __future__ import annotations

import json
from typing import Any

from http_api.openapi import openapi_document
from http_api.operations import operations
from tests.api.conftest import Api


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_operation_is_documented_with_its_errors_and_security() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    for op in operations():
        entry = document["paths"][op.path][op.method.lower()]
        assert entry["operationId"] == op.operation_id
        assert str(op.status) in entry["responses"]
        for status in ("400", "401", "403", "404", "422"):
            schema = entry["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
        assert entry["security"] == [{"bearer": []}]
        assert entry["x-required-role"] == op.role.claim
        if op.body is not None:
            assert "requestBody" in entry
        if op.method != "GET":
            assert {"409", "413", "415"} <= set(entry["responses"]), op.path
    assert set(document["components"]["securitySchemes"]) == {"bearer"}
    for public in ("/health", "/openapi.json"):
        assert document["paths"][public]["get"]["security"] == []
    operation_ids = [op.operation_id for op in operations()]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_reference_resolves() -> None:
    document = openapi_document()
    for ref in refs(document):
        assert resolve(document, ref) is not None, ref


def test_response_schemas_carry_no_password() -> None:
    document = openapi_document()
    for op in operations():
        response = document["paths"][op.path][op.method.lower()]["responses"][str(op.status)]
        text = json.dumps(_expanded(document, response, set()))
        assert '"password":' not in text, (
            op.path
        )  # no such property (a server's auth may be "password")


def _expanded(document: dict[str, Any], node: Any, seen: set[str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return {}
            return _expanded(document, resolve(document, ref), seen | {ref})
        return {key: _expanded(document, value, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_expanded(document, value, seen) for value in node]
    return node


def test_passwords_in_bodies_are_write_only() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for name in ("ServerCreate", "ServerUpdate", "DatabaseCreate", "DatabaseUpdate"):
        password = schemas[name]["properties"]["password"]
        variants = password.get("anyOf", [password])
        assert any(v.get("writeOnly") and v.get("format") == "password" for v in variants), name


async def test_the_document_is_served(api: Api) -> None:
    served = await api.call("GET", "openapi.json", None)
    assert served.status == 200
    assert served.json() == json.loads(json.dumps(openapi_document()))
