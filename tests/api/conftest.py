"""Fixtures for the API tests: an identity provider of our own (RSA key + JWKS server),
tokens for each role, and the product app running in the emulator on Azurite."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.secrets.factory import secret_store_from_settings
from shared.secrets.local import LocalSecretStore
from shared.settings import load_settings
from shared.storage.repositories import Repositories
from tests.conftest import ROOT, app_environment, serving, unique_name

AUDIENCE = "api://dilux-backup-tests"
TENANT = "00000000-0000-0000-0000-0000000000aa"
ISSUER = f"https://login.example.test/{TENANT}/v2.0"
ROLE_CLAIMS = {"reader": "Backup.Reader", "operator": "Backup.Operator", "admin": "Backup.Admin"}
PG = "host=127.0.0.1 port=5432 user=postgres dbname={}"


def _reset_caches() -> None:
    from shared.auth import reset_authenticator
    from shared.secrets import reset_secret_stores
    from shared.settings import reset_settings
    from shared.storage.clients import reset_clients

    reset_settings()
    reset_authenticator()
    reset_secret_stores()
    reset_clients()
    # Caches of the app's own layers, when a previous host left them loaded.
    for module_name in ("http_api.services", "activities.wiring"):
        module = sys.modules.get(module_name)
        if module is not None:
            module.services.cache_clear()


@dataclass
class IdentityProvider:
    """Signs tokens like Entra ID would and publishes its key set."""

    key: rsa.RSAPrivateKey
    kid: str
    url: str = ""
    requests: list[str] = field(default_factory=list)

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def token(
        self,
        role: str | None = "reader",
        *,
        lifetime: int = 600,
        key: Any = None,
        kid: str | None = None,
        algorithm: str = "RS256",
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
            "oid": f"oid-{role or 'none'}",
            "preferred_username": f"{role or 'nobody'}@example.test",
            "roles": [ROLE_CLAIMS[role]] if role else [],
        }
        payload.update(claims)
        headers = {"kid": kid or self.kid}
        return jwt.encode(payload, key or self.key, algorithm=algorithm, headers=headers)


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture
async def idp(signing_key: rsa.RSAPrivateKey) -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider(key=signing_key, kid=f"kid-{uuid.uuid4().hex[:8]}")

    async def keys(request: web.Request) -> web.Response:
        provider.requests.append(request.path)
        return web.json_response({"keys": [provider.jwk()]})

    app = web.Application()
    app.router.add_get("/discovery/keys", keys)
    async with serving(app) as base_url:
        provider.url = f"{base_url}/discovery/keys"
        yield provider


def api_environment(table_prefix: str, container: str, **extra: str) -> dict[str, str]:
    entra = {"ENTRA_TENANT_ID": TENANT, "ENTRA_AUDIENCE": AUDIENCE, "ENTRA_ISSUER": ISSUER}
    return app_environment(table_prefix, container, AUTH_MODE="entra", **{**entra, **extra})


@pytest.fixture
def clean_caches() -> Iterator[None]:
    _reset_caches()
    yield
    _reset_caches()


@pytest.fixture
def api_env(idp: IdentityProvider, table_prefix: str, blob_container: str) -> dict[str, str]:
    return api_environment(table_prefix, blob_container, ENTRA_JWKS_URL=idp.url)


class Api:
    """The emulator, with a token per role. No function key is sent (the API asks none) and
    every change says `Content-Type: application/json`, as the API requires."""

    def __init__(self, emu: Any, idp: IdentityProvider) -> None:
        self.emu = emu
        self.idp = idp

    async def call(
        self,
        method: str,
        path: str,
        role: str | None = "admin",
        *,
        token: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        key: bool | str = False,
    ) -> Any:
        headers = dict(headers or {})
        bearer = token if token is not None else (self.idp.token(role) if role else None)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if method != "GET":
            headers.setdefault("Content-Type", "application/json")
        options: dict[str, Any] = {"headers": headers, "params": params, "key": key}
        if json is not None:
            options["json"] = json
        if data is not None:
            options["data"] = data
        return await self.emu.request(method, f"/api/{path.lstrip('/')}", **options)


@pytest.fixture
async def api(
    idp: IdentityProvider, api_env: dict[str, str], tmp_path: Path, clean_caches: None
) -> AsyncIterator[Api]:
    from emulator.testing import run_emulator

    async with run_emulator(ROOT, tmp_path / "state.sqlite", env=api_env) as emu:
        yield Api(emu, idp)


@pytest.fixture
def filled_database(postgres_database: str) -> str:
    """A PostgreSQL database with a table `items` of 200 rows."""
    import psycopg

    with psycopg.connect(PG.format(postgres_database)) as conn:
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL)")
        conn.execute("INSERT INTO items (label) SELECT 'item ' || n FROM generate_series(1, 200) n")
    return postgres_database


@pytest.fixture
async def dev(
    table_prefix: str, blob_container: str, tmp_path: Path, clean_caches: None
) -> AsyncIterator[Any]:
    """The app in the emulator on 127.0.0.1 in development mode (no token), with the host's
    body limit at 4096 bytes."""
    from emulator.testing import run_emulator

    env = app_environment(table_prefix, blob_container, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT="4096")
    assert env["AUTH_MODE"] == "development"
    async with run_emulator(ROOT, tmp_path / "state.sqlite", env=env) as emu:
        yield emu


def repositories(env: dict[str, str]) -> Repositories:
    """The app's repositories on the test's tables, to write what no route writes."""
    settings = load_settings(
        backup_storage_connection_string=env["BACKUP_STORAGE_CONNECTION_STRING"],
        table_prefix=env["TABLE_PREFIX"],
        secret_store="local",
    )
    return Repositories.from_settings(settings)


def secret_store(env: dict[str, str]) -> LocalSecretStore:
    """The app's secret store on the test's key, to write what no route writes."""
    settings = load_settings(
        backup_storage_connection_string=env["BACKUP_STORAGE_CONNECTION_STRING"],
        table_prefix=env["TABLE_PREFIX"],
        secret_store="local",
        local_secret_key=env["LOCAL_SECRET_KEY"],
    )
    store = secret_store_from_settings(settings)
    assert isinstance(store, LocalSecretStore)
    return store


def name(prefix: str = "t") -> str:
    return unique_name(prefix)


def hmac_confused_token(payload: dict[str, object], secret: bytes, kid: str) -> str:
    """An HS256 token whose HMAC secret is the RSA public key: the classic algorithm
    confusion. PyJWT refuses to build one, so it is built by hand."""

    def part(value: object) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{part(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"
