"""The tenant's signing keys, fetched over HTTPS and cached.

Keys are re-read when a token names a key id we do not know (Entra rotates keys), but at
most once per `refresh_min_seconds`, so a flood of tokens with made-up key ids cannot turn
into a flood of requests to the identity provider. Requests arriving while the keys are
being fetched wait for that fetch instead of starting another (or failing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)

_FETCH_TIMEOUT_SECONDS = 10


class JwksUnavailable(Exception):
    """The key set could not be fetched or read."""


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        refresh_min_seconds: float,
        max_age_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._refresh_min = refresh_min_seconds
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_fetch_failed = False
        self._fetching: asyncio.Task[None] | None = None
        self.fetch_count = 0

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        """The RSA signing key with this id, or None if the tenant publishes no such key."""
        if self._fetching is None and (
            self._stale() or (kid not in self._keys and self._may_refresh())
        ):
            self._fetching = asyncio.ensure_future(self._refresh())
        if self._fetching is not None:
            fetching = self._fetching
            try:
                await asyncio.shield(fetching)  # one waiter's cancellation spares the rest
            finally:
                if self._fetching is fetching and fetching.done():
                    self._fetching = None
        elif kid not in self._keys and self._last_fetch_failed:
            # Not asked again yet: the provider was down a moment ago, not the token wrong.
            raise JwksUnavailable("signing keys could not be fetched")
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at > self._max_age

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= self._refresh_min

    async def _refresh(self) -> None:
        # Stamped before fetching: a failing endpoint is also asked only once per interval.
        self._fetched_at = self._monotonic()
        self.fetch_count += 1
        self._last_fetch_failed = True
        document = await self._fetch()
        self._keys = _rsa_signing_keys(document)
        self._last_fetch_failed = False

    async def _fetch(self) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=_FETCH_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self._url) as response,
            ):
                response.raise_for_status()
                document = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("signing keys could not be fetched: %s", type(exc).__name__)
            raise JwksUnavailable("signing keys could not be fetched") from exc
        if not isinstance(document, dict):
            raise JwksUnavailable("signing keys document is not an object")
        return document


def _rsa_signing_keys(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm="RS256")
        except jwt.PyJWTError:
            log.warning("ignored an unreadable signing key")
    return keys
