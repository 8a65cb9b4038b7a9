"""A small HTTPS stand-in for the Key Vault secret endpoints SecretClient calls.

It speaks just enough of the REST API for the real azure-keyvault-secrets SDK:
the bearer challenge (an unauthenticated request gets 401 + WWW-Authenticate),
GET/PUT/DELETE /secrets/{name}, and soft delete (GET /deletedsecrets/{name},
POST /deletedsecrets/{name}/recover, 409 on PUT of a deleted name). TLS uses a
throwaway CA and a localhost certificate generated at start.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT = "00000000-0000-0000-0000-0000000000aa"
RESOURCE = "https://vault.azure.net"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"
STANDIN_TOKEN = "standin-token"


# --- TLS material ------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: str, public_key: Any, signer: Any, ca: bool) -> Any:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) PEM files in `folder`."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = "standin test CA"
    ca_cert = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    server_cert = _certificate("localhost", ca_name, server_key.public_key(), ca_key, False)
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


# --- the fake credential -------------------------------------------------------------------


@dataclass
class FakeCredential:
    """Stands in for DefaultAzureCredential: hands out a fixed token, records requests."""

    token: str = STANDIN_TOKEN
    calls: list[dict[str, Any]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append({"scopes": scopes, "tenant_id": kwargs.get("tenant_id")})
        return AccessToken(self.token, int(time.time()) + 3600)


# --- the vault -----------------------------------------------------------------------------


@dataclass
class Vault:
    accepted_token: str
    base_url: str = ""
    secrets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # As the template sets the vault: a deleted secret cannot be purged (our reading of
    # the REST reference: 403 Forbidden; unverified against Azure).
    purge_protection: bool = True

    def bundle(self, name: str, version: dict[str, Any]) -> dict[str, Any]:
        body = {
            "value": version["value"],
            "id": f"{self.base_url}/secrets/{name}/{version['version']}",
            "attributes": {
                "enabled": True,
                "created": version["created"],
                "updated": version["created"],
                "recoveryLevel": "Recoverable+Purgeable",
            },
        }
        if version.get("contentType"):
            body["contentType"] = version["contentType"]
        return body

    def deleted_bundle(self, name: str) -> dict[str, Any]:
        body = self.bundle(name, self.deleted[name][-1])
        body.pop("value")
        now = int(time.time())
        body.update(
            recoveryId=f"{self.base_url}/deletedsecrets/{name}",
            deletedDate=now,
            scheduledPurgeDate=now + 90 * 86400,
        )
        return body


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


SECRET_PATH = re.compile(r"^/secrets/([A-Za-z0-9-]{1,127})/?([0-9a-f]{32})?/?$")
DELETED_PATH = re.compile(r"^/deletedsecrets/([A-Za-z0-9-]{1,127})(/recover)?/?$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(
        self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        vault = self.server.vault
        body = self._body()
        path = urlsplit(self.path).path
        authorization = self.headers.get("Authorization")
        vault.requests.append(
            {"method": method, "path": self.path, "authorization": authorization, "body": body}
        )
        if authorization != f"Bearer {vault.accepted_token}":
            challenge = f'Bearer authorization="{AUTHORITY}", resource="{RESOURCE}"'
            self._reply(
                401,
                _error("Unauthorized", "AKV10000: Request is missing a Bearer"),
                {"WWW-Authenticate": challenge},
            )
            return
        with vault.lock:
            status, reply = route(vault, method, path, body)
        self._reply(status, reply)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")


def route(vault: Vault, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any] | None]:
    secret = SECRET_PATH.match(path)
    if secret:
        return _secret(vault, method, secret.group(1), secret.group(2), body)
    deleted = DELETED_PATH.match(path)
    if deleted:
        return _deleted(vault, method, deleted.group(1), bool(deleted.group(2)))
    return 404, _error("NotFound", "no such endpoint")


def _secret(
    vault: Vault, method: str, name: str, version: str | None, body: bytes
) -> tuple[int, dict[str, Any]]:
    if method == "PUT":
        if name in vault.deleted:
            message = f"Secret {name} is currently in a deleted but recoverable state"
            return 409, _error("Conflict", message)
        request = json.loads(body)
        entry = {
            "value": request["value"],
            "contentType": request.get("contentType"),
            "version": uuid.uuid4().hex,
            "created": int(time.time()),
        }
        vault.secrets.setdefault(name, []).append(entry)
        return 200, vault.bundle(name, entry)
    versions = vault.secrets.get(name)
    if not versions:
        return 404, _error("SecretNotFound", f"A secret with (name/id) {name} was not found")
    if method == "GET":
        chosen = [v for v in versions if v["version"] == version] if version else versions[-1:]
        if not chosen:
            return 404, _error("SecretNotFound", f"version of {name} not found")
        return 200, vault.bundle(name, chosen[-1])
    if method == "DELETE":
        vault.deleted[name] = vault.secrets.pop(name)
        return 200, vault.deleted_bundle(name)
    return 405, _error("BadRequest", "method not allowed")


def _deleted(
    vault: Vault, method: str, name: str, recover: bool
) -> tuple[int, dict[str, Any] | None]:
    if name not in vault.deleted:
        return 404, _error("SecretNotFound", f"Deleted secret {name} was not found")
    if method == "POST" and recover:
        vault.secrets[name] = vault.deleted.pop(name)
        return 200, vault.bundle(name, vault.secrets[name][-1])
    if method == "GET" and not recover:
        return 200, vault.deleted_bundle(name)
    if method == "DELETE" and not recover:
        if vault.purge_protection:
            message = "Operation 'purge' is not allowed: purge protection is enabled"
            return 403, _error("Forbidden", message)
        del vault.deleted[name]
        return 204, None
    return 405, _error("BadRequest", "method not allowed")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, vault: Vault, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.vault = vault
        self.socket = context.wrap_socket(self.socket, server_side=True)


class KeyVaultStandIn:
    """Run with `with KeyVaultStandIn(tmp_path) as vault:`; `vault.url`, `vault.ca_file`."""

    def __init__(self, folder: Path, accepted_token: str = STANDIN_TOKEN) -> None:
        self.ca_file, cert_file, key_file = make_tls_files(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.vault = Vault(accepted_token=accepted_token)
        self._server = _Server(self.vault, context)
        self.url = f"https://localhost:{self._server.server_address[1]}"
        self.vault.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> KeyVaultStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
