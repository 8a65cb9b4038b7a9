"""Entity batches (protocol 3): requests in, state and per-operation results out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emulator.contracts import InvalidRequest


def entity_target(name: str, key: str) -> str:
    """The scheduler id `@<name lower-cased>@<key>`; InvalidRequest for a name that would
    make it ambiguous (like .NET's `EntityId`, names may not hold `@`)."""
    if not name or "@" in name:
        raise InvalidRequest(f"Entity names must be non-empty and may not contain '@': {name!r}")
    return f"@{name.lower()}@{key}"


def split_target(target: str) -> tuple[str, str]:
    name, _, key = target[1:].partition("@")
    return name, key


def client_request(operation: str, input_text: str | None, request_id: str) -> dict[str, Any]:
    """A signal from the client API. The body (JSON text of the input) is re-serialized into
    the request like the extension's `RequestMessage.SetInput` does."""
    encoded = None
    if input_text not in (None, ""):
        try:
            encoded = json.dumps(json.loads(input_text))
        except ValueError:
            encoded = json.dumps(input_text)
    return {"op": operation, "signal": True, "input": encoded, "id": request_id}


def build_batch(
    name: str, key: str, exists: bool, state: str | None, requests: list[dict[str, Any]]
) -> str:
    batch = [
        {"name": r.get("op"), "input": r.get("input"), "isSignal": bool(r.get("signal"))}
        for r in requests
    ]
    return json.dumps(
        {
            "self": {"name": name, "key": key},
            "exists": exists,
            "state": state if exists else None,
            "batch": batch,
        }
    )


@dataclass
class BatchResult:
    exists: bool
    state: str | None
    results: list[dict[str, Any]]


def parse_result(text: str, count: int, exists: bool, state: str | None) -> BatchResult:
    data = json.loads(text)
    results = list(data.get("results") or [])
    while len(results) < count:
        results.append({"isError": True, "result": json.dumps("The operation was not executed.")})
    new_exists = bool(data.get("entityExists"))
    new_state = data.get("entityState") if new_exists else None
    return BatchResult(new_exists, new_state, results)


def failed_batch(count: int, exists: bool, state: str | None, message: str) -> BatchResult:
    error = {"isError": True, "result": json.dumps(message)}
    return BatchResult(exists, state, [dict(error) for _ in range(count)])


def response_input(result: dict[str, Any]) -> str:
    """`EventRaised.Input` answering a call: `{"result": <JSON text>}` (+ exceptionType)."""
    payload: dict[str, Any] = {"result": result.get("result")}
    if payload["result"] is None:
        payload["result"] = "null"
    if result.get("isError"):
        payload["exceptionType"] = "Exception"
    return json.dumps(payload)
