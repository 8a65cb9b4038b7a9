"""The built-in activity behind `context.call_http` (scheduled as `BuiltIn::HttpActivity`).

One request, one response: the extension's 202 polling (asynchronous pattern) and managed
identity token sources are not emulated; a request carrying a token source fails clearly.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import aiohttp

_TIMEOUT = aiohttp.ClientTimeout(total=100)


async def call_http(request_text: str) -> str:
    """The activity input is the action's `httpRequest` JSON; the result is the JSON of a
    DurableHttpResponse (`statusCode`, `headers`, `content`)."""
    request: dict[str, Any] = json.loads(request_text)
    if request.get("tokenSource"):
        raise ValueError("call_http token sources (managed identity) are not supported here.")
    uri = str(request.get("uri") or "")
    if urlparse(uri).scheme not in ("http", "https"):
        raise ValueError(f"call_http needs an http(s) URI, got {uri!r}.")
    content = request.get("content")
    body = content.encode() if isinstance(content, str) else None
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    async with (
        aiohttp.ClientSession(timeout=_TIMEOUT) as session,
        session.request(
            str(request.get("method") or "GET"), uri, data=body, headers=headers
        ) as response,
    ):
        text = await response.text()
        return json.dumps(
            {"statusCode": response.status, "headers": dict(response.headers), "content": text}
        )
