"""Bearer token validation against a JWKS we serve: what is accepted and what is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from shared.auth import AuthConfig, Authenticator, AuthError, Role, check_development_mode
from tests.api.conftest import (
    AUDIENCE,
    ISSUER,
    TENANT,
    IdentityProvider,
    hmac_confused_token,
    new_rsa_key,
)

URL = "http://127.0.0.1:7071/api/servers"


def entra(idp: IdentityProvider, **overrides: str) -> Authenticator:
    values = {
        "auth_mode": "entra",
        "entra_tenant_id": TENANT,
        "entra_audience": AUDIENCE,
        "entra_issuer": ISSUER,
        "entra_jwks_url": idp.url,
        **overrides,
    }
    return Authenticator(AuthConfig(**values))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(auth: Authenticator, token: str, url: str = URL) -> AuthError:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(url, bearer(token))
    return caught.value


@pytest.mark.parametrize("role", ["reader", "operator", "admin"])
async def test_valid_token_gives_its_role(idp: IdentityProvider, role: str) -> None:
    principal = await entra(idp).authenticate(URL, bearer(idp.token(role)))
    assert (
        principal.role
        == {"reader": Role.READER, "operator": Role.OPERATOR, "admin": Role.ADMIN}[role]
    )
    assert principal.subject == f"oid-{role}"


async def test_highest_role_wins_and_unknown_roles_are_ignored(idp: IdentityProvider) -> None:
    token = idp.token(None, roles=["Something.Else", "Backup.Reader", "Backup.Admin"])
    assert (await entra(idp).authenticate(URL, bearer(token))).role is Role.ADMIN
    nothing = idp.token(None, roles=["Backup.Superuser"])
    principal = await entra(idp).authenticate(URL, bearer(nothing))
    assert principal.role is None and not principal.may(Role.READER)


async def test_expired_token_is_refused(idp: IdentityProvider) -> None:
    error = await refused(entra(idp), idp.token("admin", lifetime=-3600))
    assert (error.status, error.message) == (401, "token expired")


async def test_token_not_yet_valid_is_refused(idp: IdentityProvider) -> None:
    error = await refused(entra(idp), idp.token("admin", nbf=int(time.time()) + 3600))
    assert error.message == "token not yet valid"


async def test_wrong_audience_is_refused(idp: IdentityProvider) -> None:
    error = await refused(entra(idp), idp.token("admin", aud="api://someone-else"))
    assert error.message == "token is for another audience"


async def test_wrong_issuer_is_refused(idp: IdentityProvider) -> None:
    other = "https://login.microsoftonline.com/another-tenant/v2.0"
    error = await refused(entra(idp), idp.token("admin", iss=other))
    assert error.message == "token from another issuer"


async def test_unsigned_token_is_refused(idp: IdentityProvider) -> None:
    payload = jwt.decode(idp.token("admin"), options={"verify_signature": False})
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": idp.kid})
    error = await refused(entra(idp), unsigned)
    assert error.message == "token algorithm not accepted"
    assert idp.requests == []  # refused before any key was looked up


async def test_hs256_signed_with_the_public_key_is_refused(idp: IdentityProvider) -> None:
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = jwt.decode(idp.token("admin"), options={"verify_signature": False})
    # PyJWT refuses to sign HMAC with a PEM key, so the confused token is built by hand.
    confused = hmac_confused_token(payload, public_pem, idp.kid)
    error = await refused(entra(idp), confused)
    assert error.message == "token algorithm not accepted"


async def test_token_signed_by_another_key_is_refused(idp: IdentityProvider) -> None:
    forged = idp.token("admin", key=new_rsa_key())
    error = await refused(entra(idp), forged)
    assert error.message == "token rejected"


async def test_unknown_key_id_refreshes_at_most_once_per_interval(idp: IdentityProvider) -> None:
    auth = entra(idp, jwks_refresh_min_seconds="3600")
    await auth.authenticate(URL, bearer(idp.token("reader")))
    for attempt in range(5):
        error = await refused(auth, idp.token("admin", kid=f"made-up-{attempt}"))
        assert error.message == "token signed by an unknown key"
    assert len(idp.requests) == 1


async def test_missing_or_malformed_bearer_is_refused(idp: IdentityProvider) -> None:
    auth = entra(idp)
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(URL, {})
    assert (caught.value.status, caught.value.code) == (401, "missing_token")
    with pytest.raises(AuthError):
        await auth.authenticate(URL, {"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert (await refused(auth, "not.a.jwt")).code == "invalid_token"


@pytest.mark.parametrize(
    "config",
    [
        {"auth_mode": "entra"},  # no tenant, no audience
        {"auth_mode": "entra", "entra_tenant_id": TENANT},  # no audience
        {"auth_mode": "mock", "entra_tenant_id": TENANT, "entra_audience": AUDIENCE},
        {"auth_mode": ""},
    ],
)
async def test_incomplete_or_unknown_configuration_denies_everything(
    idp: IdentityProvider, config: dict[str, str]
) -> None:
    auth = Authenticator(AuthConfig(entra_jwks_url=idp.url, **config))
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(URL, bearer(idp.token("admin")))
    assert caught.value.code == "auth_not_configured"


@pytest.fixture
def off_azure(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Off Azure, inside the emulator listening on 127.0.0.1 (what it tells the app)."""
    for marker in ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME"):
        monkeypatch.delenv(marker, raising=False)
    monkeypatch.setenv("EMULATOR_LISTEN_ADDRESS", "127.0.0.1")
    yield


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:7071/api/x",
        "http://localhost:7071/api/x",
        "http://[::1]:7071/api/x",
        "http://[::ffff:127.0.0.1]:7071/api/x",
    ],
)
async def test_development_mode_on_loopback_is_admin(url: str, off_azure: None) -> None:
    principal = await Authenticator(AuthConfig(auth_mode="development")).authenticate(url, {})
    assert principal.role is Role.ADMIN


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("http://10.0.0.5:7071/api/x", {}),
        ("http://backup.example.com/api/x", {}),
        ("http://127.0.0.1.example.com/api/x", {}),
        ("http://]/api/x", {}),
        ("http://[::1/api/x", {}),
        ("http://127.0.0.1:7071/api/x", {"X-Forwarded-For": "203.0.113.9"}),
        ("http://127.0.0.1:7071/api/x", {"Forwarded": "for=203.0.113.9"}),
    ],
)
async def test_development_mode_elsewhere_is_refused(
    url: str, headers: dict[str, str], off_azure: None
) -> None:
    with pytest.raises(AuthError) as caught:
        await Authenticator(AuthConfig(auth_mode="development")).authenticate(url, headers)
    assert caught.value.status == 401


async def test_development_mode_is_refused_on_azure(
    off_azure: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "abc123")
    with pytest.raises(AuthError):
        await Authenticator(AuthConfig(auth_mode="development")).authenticate(URL, {})
    with pytest.raises(RuntimeError, match="refused on Azure"):
        check_development_mode(AuthConfig(auth_mode="development"))


@pytest.mark.parametrize(
    "listening",
    [None, "0.0.0.0", "::", "192.0.2.10", "backup.example"],  # noqa: S104 (refused binds)
)
async def test_development_mode_is_refused_off_a_loopback_bind(
    listening: str | None, off_azure: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the emulator saying it listens on loopback (func start, a wildcard bind), the
    # Host header would be the only check, and any forwarder can set it.
    if listening is None:
        monkeypatch.delenv("EMULATOR_LISTEN_ADDRESS")
    else:
        monkeypatch.setenv("EMULATOR_LISTEN_ADDRESS", listening)
    with pytest.raises(AuthError) as caught:
        await Authenticator(AuthConfig(auth_mode="development")).authenticate(URL, {})
    assert caught.value.code == "auth_not_configured"
    with pytest.raises(RuntimeError, match="AUTH_MODE=development"):
        check_development_mode(AuthConfig(auth_mode="development"))
    check_development_mode(AuthConfig(auth_mode="entra"))  # other modes start anywhere


async def test_unreachable_key_set_is_503_and_asked_once_per_interval(
    idp: IdentityProvider,
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/keys"
    auth = entra(idp, entra_jwks_url=closed, jwks_refresh_min_seconds="3600")
    for _ in range(3):
        error = await refused(auth, idp.token("admin"))
        assert (error.status, error.code) == (503, "auth_unavailable")
    assert auth._validator._jwks.fetch_count == 1  # type: ignore[union-attr]


async def test_keys_are_cached_between_requests(idp: IdentityProvider) -> None:
    auth = entra(idp)
    for role in ("reader", "operator", "admin", "reader"):
        await auth.authenticate(URL, bearer(idp.token(role)))
    assert len(idp.requests) == 1


async def test_requests_arriving_while_keys_are_fetched_wait_for_that_fetch(
    idp: IdentityProvider,
) -> None:
    auth = entra(idp)
    tokens = [idp.token(role) for role in ("reader", "operator", "admin")]
    principals = await asyncio.gather(*(auth.authenticate(URL, bearer(t)) for t in tokens))
    assert [p.role for p in principals] == [Role.READER, Role.OPERATOR, Role.ADMIN]
    assert len(idp.requests) == 1
