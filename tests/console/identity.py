"""A sign-in authority of our own for the console's browser tests: just enough of Entra ID's
OAuth 2.0 endpoints for MSAL's authorization code flow with PKCE, over HTTPS (MSAL refuses
an http authority) with a self-signed certificate for 127.0.0.1.

- `GET /{tenant}/v2.0/.well-known/openid-configuration`: the endpoints below.
- `GET /{tenant}/oauth2/v2.0/authorize`: signs in `user` at once (no login page) and
  redirects back with a code bound to the PKCE challenge, the client and the redirect URI.
- `POST /{tenant}/oauth2/v2.0/token`: the code and its verifier (S256 checked) for an ID
  token and an access token; the access token is the API's (`tests.api.conftest`'s issuer,
  audience and signing key), so the API validates it exactly as it validates any token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.api.conftest import TENANT, IdentityProvider

CLIENT_ID = "00000000-0000-0000-0000-00000000c0de"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def self_signed(folder: Path) -> ssl.SSLContext:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "authority.crt", folder / "authority.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@dataclass
class Authority:
    """The stand-in; `user` is who signs in (a role of tests.api.conftest.ROLE_CLAIMS)."""

    idp: IdentityProvider
    user: str = "reader"
    base: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanged: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The authority URL the console is configured with."""
        return f"{self.base}/{TENANT}"

    def metadata(self) -> dict[str, Any]:
        root = f"{self.base}/{TENANT}"
        return {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "jwks_uri": f"{self.base}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="wrong client or no PKCE")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
            "nonce": query.get("nonce", ""),
            "scope": query.get("scope", ""),
        }
        answer = {"code": code, "state": query.get("state", ""), "client_info": self.client_info()}
        separator = "?" if query.get("response_mode") == "query" else "#"
        raise web.HTTPFound(f"{query['redirect_uri']}{separator}{urlencode(answer)}")

    def client_info(self) -> str:
        return b64url(json.dumps({"uid": f"oid-{self.user}", "utid": TENANT}).encode())

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") == "refresh_token":
            return self._tokens(nonce="", scope=str(form.get("scope", "")))
        grant = self.codes.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        if (
            grant is None
            or form.get("client_id") != CLIENT_ID
            or form.get("redirect_uri") != grant["redirect_uri"]
            or b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]
        ):
            return web.json_response({"error": "invalid_grant"}, status=400, headers=CORS)
        self.exchanged.append(grant["scope"])
        return self._tokens(nonce=grant["nonce"], scope=grant["scope"])

    def _tokens(self, nonce: str, scope: str) -> web.Response:
        now = int(time.time())
        claims = {
            "iss": f"{self.url}/v2.0", "aud": CLIENT_ID, "iat": now, "nbf": now, "exp": now + 3600,
            "oid": f"oid-{self.user}", "sub": f"sub-{self.user}", "tid": TENANT,
            "preferred_username": f"{self.user}@example.test", "name": f"The {self.user}",
            "ver": "2.0",
        }  # fmt: skip
        if nonce:
            claims["nonce"] = nonce
        header = {"kid": self.idp.kid}
        id_token = jwt.encode(claims, self.idp.key, algorithm="RS256", headers=header)
        body = {
            "token_type": "Bearer",
            "scope": " ".join(part for part in scope.split() if "/" in part) or scope,
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": self.idp.token(self.user),
            "refresh_token": secrets.token_urlsafe(32),
            "id_token": id_token,
            "client_info": self.client_info(),
        }
        return web.json_response(body, headers=CORS)


@asynccontextmanager
async def serve_authority(
    idp: IdentityProvider, folder: Path, user: str
) -> AsyncIterator[Authority]:
    authority = Authority(idp=idp, user=user)

    async def metadata(request: web.Request) -> web.Response:
        return web.json_response(authority.metadata(), headers=CORS)

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(status=204, headers=CORS)

    async def authorize(request: web.Request) -> web.Response:
        return authority.authorize(request)

    app = web.Application()
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", metadata)
    app.router.add_get("/{tenant}/.well-known/openid-configuration", metadata)
    app.router.add_get("/{tenant}/oauth2/v2.0/authorize", authorize)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", authority.token)
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed(folder))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    authority.base = f"https://127.0.0.1:{port}"
    try:
        yield authority
    finally:
        await runner.cleanup()
