"""Every route, times anonymous / no role / reader / operator / admin, through the emulator."""

from __future__ import annotations

import re
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from http_api.operations import PUBLIC_ROUTES, REGISTRY, Operation, operation, operations
from shared.auth import Role
from tests.api.conftest import Api, IdentityProvider, api_environment, hmac_confused_token
from tests.conftest import ROOT

ROLES = {None: None, "reader": Role.READER, "operator": Role.OPERATOR, "admin": Role.ADMIN}
PLACEHOLDER = re.compile(r"{(\w+)}")


def concrete(op: Operation) -> str:
    return PLACEHOLDER.sub(lambda m: f"missing-{m.group(1).replace('_', '-')}", op.path)


def protected() -> list[Operation]:
    found = operations()
    assert len(found) >= 30  # the table is complete, not accidentally empty
    return found


async def test_every_route_answers_each_role_as_the_matrix_says(api: Api) -> None:
    outcomes: dict[str, dict[str, int]] = {}
    for op in protected():
        path = concrete(op)
        row = outcomes.setdefault(f"{op.method} {op.path}", {})
        row["anonymous"] = (await api.call(op.method, path, None, json={})).status
        row["no role"] = (
            await api.call(op.method, path, token=api.idp.token(None), json={})
        ).status
        for name in ("reader", "operator", "admin"):
            row[name] = (await api.call(op.method, path, name, json={})).status
    for label, row in outcomes.items():
        op_role = next(op.role for op in protected() if f"{op.method} {op.path}" == label)
        assert row["anonymous"] == 401, (label, row)
        assert row["no role"] == 403, (label, row)
        for name in ("reader", "operator", "admin"):
            if ROLES[name] >= op_role:
                assert row[name] not in (401, 403, 500), (label, name, row)
            else:
                assert row[name] == 403, (label, name, row)


async def test_no_function_key_is_asked_but_every_operation_needs_a_token(api: Api) -> None:
    # The platform asks no key (the console in a browser cannot keep one); the app's own
    # check is what stands: no token is 401 on every operation, a token is enough.
    for op in operations():
        anonymous = await api.call(op.method, concrete(op), None, json={})
        assert anonymous.status == 401, (op.method, op.path)
        assert anonymous.json()["error"]["code"] == "missing_token", (op.method, op.path)
        admin = await api.call(op.method, concrete(op), "admin", json={})
        assert admin.status not in (401, 403), (op.method, op.path, admin.text)
    health = await api.call("GET", "health", None)
    assert health.status == 200 and health.json() == {"status": "ok"}
    document = await api.call("GET", "openapi.json", None)
    assert document.status == 200 and document.json()["openapi"] == "3.1.0"


async def test_every_route_is_an_operation_or_deliberately_public(api: Api) -> None:
    # Closed by default: a route that is not an operation (which checks its caller) must be
    # listed as public on purpose. Adding one means adding it here too.
    # The console: its files (anonymous, they hold no data) and its public sign-in settings.
    assert {"api/health", "api/openapi.json", "api/console-config", "{*path}"} == PUBLIC_ROUTES
    operation_routes = {op.route for op in operations()}
    for function in api.emu.host.http.functions:
        assert function.route in operation_routes | PUBLIC_ROUTES, function.name


async def test_the_durable_management_api_keeps_its_system_key(api: Api) -> None:
    path = "/runtime/webhooks/durabletask/instances"
    assert (await api.emu.request("GET", path, key=False)).status == 401
    bearer = {"Authorization": f"Bearer {api.idp.token('admin')}"}
    assert (await api.emu.request("GET", path, headers=bearer, key=False)).status == 401
    assert (await api.emu.request("GET", path, key=api.emu.function_key)).status == 401
    assert (await api.emu.request("GET", path, key=api.emu.system_key)).status == 200


async def test_a_refused_change_is_audited_as_denied(api: Api) -> None:
    refused = await api.call("POST", "servers", "operator", json={"name": "x"})
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "forbidden"
    audit = await api.call("GET", "audit", "admin", params={"action": "server.create"})
    entries = audit.json()["items"]
    assert [(e["outcome"], e["actor"]) for e in entries] == [
        ("denied", "oid-operator (operator@example.test)")
    ]


async def test_audit_is_admin_only(api: Api) -> None:
    assert (await api.call("GET", "audit", "operator")).status == 403
    assert (await api.call("GET", "audit", "admin")).status == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer x.y.z"])
async def test_malformed_authorization_is_401_with_a_challenge(api: Api, header: str) -> None:
    response = await api.emu.request("GET", "/api/servers", headers={"Authorization": header})
    assert response.status == 401
    assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert set(response.json()["error"]) == {"code", "message", "details"}


async def test_bad_tokens_are_refused_by_every_kind_of_route(api: Api) -> None:

    idp = api.idp
    claims = jwt.decode(idp.token("admin"), options={"verify_signature": False})
    pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tokens = {
        "expired": idp.token("admin", lifetime=-3600),
        "wrong audience": idp.token("admin", aud="api://other"),
        "wrong issuer": idp.token("admin", iss="https://sts.windows.net/other/"),
        "unsigned": jwt.encode(claims, None, algorithm="none", headers={"kid": idp.kid}),
        "hs256 with the public key": hmac_confused_token(claims, pem, idp.kid),
    }
    for label, token in tokens.items():
        for method, path in (("GET", "servers"), ("POST", "servers"), ("GET", "audit")):
            response = await api.call(method, path, token=token, json={})
            assert response.status == 401, (label, method, path, response.text)
            assert response.json()["error"]["code"] == "invalid_token"


async def test_an_incomplete_configuration_denies_everything(
    idp: IdentityProvider,
    table_prefix: str,
    blob_container: str,
    tmp_path: Path,
    clean_caches: None,
) -> None:
    from emulator.testing import run_emulator

    env = api_environment(table_prefix, blob_container, ENTRA_JWKS_URL=idp.url, ENTRA_TENANT_ID="")
    async with run_emulator(ROOT, tmp_path / "state.sqlite", env=env) as emu:
        api = Api(emu, idp)
        for op in operations():
            response = await api.call(op.method, concrete(op), "admin", json={})
            assert response.status == 401, (op.method, op.path)
            assert response.json()["error"]["code"] == "auth_not_configured"


def test_an_operation_cannot_be_declared_without_a_role() -> None:
    # Closed by default: no operation is served to an anonymous caller (/health is no operation).
    with pytest.raises(TypeError):
        operation("GET", "/no-role", None, "No role", tag="status")  # type: ignore[arg-type]
    assert ("GET", "/no-role") not in REGISTRY


async def test_cross_site_changes_are_refused_with_a_valid_token_too(api: Api) -> None:
    # Browsers do not attach bearer tokens cross-site, but the rule holds in every mode.
    server = {"name": "x", "engine": "mariadb", "host": "h", "port": 1, "username": "u"}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "text/plain"},
    ):
        response = await api.call("POST", "servers", "admin", json=server, headers=headers)
        assert response.status in (403, 415), headers
    assert (await api.call("GET", "servers")).json()["items"] == []
    same_origin = {"Origin": api.emu.base_url, "Sec-Fetch-Site": "same-origin"}
    created = await api.call("POST", "servers", "admin", json=server, headers=same_origin)
    assert created.status == 201, created.text
