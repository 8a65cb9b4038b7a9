"""A stand-in for the app's managed identity: a TokenCredential that hands out the tokens
it is given, in turn, and records what it was asked for. Its tokens look like Entra's
(three base64url parts, about 1,500 characters), which matters: they travel through
password files and option files whose lines a real token must fit in."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from azure.core.credentials import AccessToken


def fake_token(subject: str = "dilux-app") -> str:
    """A JWT-shaped string (not signed by anyone): header.claims.signature."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = {
        "aud": "https://ossrdbms-aad.database.windows.net",
        "sub": subject,
        "oid": secrets.token_hex(16),
        "xms_mirid": "/subscriptions/x/resourcegroups/rg/providers/Microsoft.Web/sites/app",
        "padding": secrets.token_urlsafe(700),
    }
    header = {"typ": "JWT", "alg": "RS256", "kid": secrets.token_hex(8)}
    body = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    return f"{body}.{part(secrets.token_bytes(256))}"


class StandInCredential:
    def __init__(self, *tokens: str, lifetime_seconds: float = 3600) -> None:
        self._tokens = list(tokens)
        self.lifetime = lifetime_seconds
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        token = self._tokens.pop(0) if len(self._tokens) > 1 else self._tokens[0]
        return AccessToken(token, int(time.time() + self.lifetime))


class BrokenCredential:
    """Like DefaultAzureCredential where no identity is available."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.identity import CredentialUnavailableError

        raise CredentialUnavailableError("no managed identity endpoint (IMDS) is available")
