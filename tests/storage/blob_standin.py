"""A local HTTP stand-in for the few Blob Storage operations Azurite 3.35 does not implement:
blob immutability policies and legal holds (Azurite answers 501, or ignores the headers on a
commit). The real azure-storage-blob SDK talks to it over HTTP, so tests check the requests
the SDK sends (`requests`) and how our code handles the answers.

What it answers is our reading of the REST reference (Put Block List's
x-ms-immutability-policy-* and x-ms-legal-hold headers, Set Blob Legal Hold, Get Blob
Properties, Delete Blob refused while a policy or a hold protects the blob). It is not Azure:
the README marks these behaviours unverified against Azure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.conftest import AZURITE_ACCOUNT_KEY

ACCOUNT = "devstoreaccount1"


@dataclass
class Request:
    method: str
    blob: str
    comp: str | None
    headers: dict[str, str]


@dataclass
class Blob:
    blocks: list[bytes]
    metadata: dict[str, str]
    tier: str = "Hot"
    immutable_until: datetime | None = None
    policy_mode: str | None = None
    legal_hold: bool = False


@dataclass
class BlobStandIn:
    blobs: dict[str, Blob] = field(default_factory=dict)
    staged: dict[str, dict[str, bytes]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    # The container's version-level immutability support (Get Container Properties).
    versioning_immutability: bool = True
    # Operations (by comp) answered 501 Not Implemented, as Azurite answers what it lacks.
    not_implemented: set[str] = field(default_factory=set)

    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};"
            f"AccountKey={AZURITE_ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )

    def sent(self, comp: str | None, method: str = "PUT") -> list[Request]:
        return [r for r in self.requests if r.comp == comp and r.method == method]


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _handler(state: BlobStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def _target(self) -> tuple[str, str | None, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            path = unquote(parts.path).split("/", 3)  # "", account, container, blob
            blob = path[3] if len(path) > 3 else ""
            return blob, query.get("comp", [None])[0], query

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {
                "x-ms-request-id": "standin",
                "x-ms-version": "2025-01-05",
                "Content-Length": "0",
                **(headers or {}),
            }.items():
                self.send_header(name, value)
            self.end_headers()

        def _error(self, status: int, code: str) -> None:
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
                f"<Message>{code}</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("x-ms-error-code", code)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self, method: str) -> tuple[str, str | None, dict[str, list[str]]]:
            blob, comp, query = self._target()
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Request(method, blob, comp, headers))
            return blob, comp, query

        def do_PUT(self) -> None:
            blob, comp, query = self._record("PUT")
            body = self._body()
            if comp in state.not_implemented:
                self._error(501, "NotImplemented")
            elif not blob and query.get("restype") == ["container"]:
                self._reply(201)  # Create Container: the app creates it before its first write
            elif comp == "block":
                state.staged.setdefault(blob, {})[query["blockid"][0]] = body
                self._reply(201)
            elif comp == "blocklist":
                self._commit(blob)
            elif comp == "legalhold":
                found = state.blobs.get(blob)
                if found is None:
                    return self._error(404, "BlobNotFound")
                found.legal_hold = self.headers["x-ms-legal-hold"].lower() == "true"
                self._reply(200, {"x-ms-legal-hold": str(found.legal_hold).lower()})
            elif comp == "immutabilityPolicies":
                found = state.blobs.get(blob)
                if found is None:
                    return self._error(404, "BlobNotFound")
                if not state.versioning_immutability:
                    return self._error(409, "ImmutableStorageWithVersioningNotEnabled")
                until = parsedate_to_datetime(self.headers["x-ms-immutability-policy-until-date"])
                earlier = found.immutable_until if found.policy_mode == "Locked" else None
                if earlier and until < earlier:  # locked: extended, never shortened
                    return self._error(409, "ImmutabilityPolicyCannotBeShortened")
                found.immutable_until = until
                found.policy_mode = self.headers.get("x-ms-immutability-policy-mode", "Unlocked")
                self._reply(
                    200,
                    {
                        "x-ms-immutability-policy-until-date": _http_date(until),
                        "x-ms-immutability-policy-mode": found.policy_mode.lower(),
                    },
                )
            elif comp == "tier":
                found = state.blobs.get(blob)
                if found is None:
                    return self._error(404, "BlobNotFound")
                found.tier = self.headers["x-ms-access-tier"]
                self._reply(200)
            else:
                self._error(400, "UnsupportedByStandIn")
            return None

        def _commit(self, blob: str) -> None:
            if self.headers.get("If-None-Match") == "*" and blob in state.blobs:
                return self._error(409, "BlobAlreadyExists")
            until = self.headers.get("x-ms-immutability-policy-until-date")
            metadata = {
                k[len("x-ms-meta-") :]: v
                for k, v in self.headers.items()
                if k.lower().startswith("x-ms-meta-")
            }
            state.blobs[blob] = Blob(
                blocks=list(state.staged.pop(blob, {}).values()),
                metadata=metadata,
                tier=self.headers.get("x-ms-access-tier", "Hot"),
                immutable_until=parsedate_to_datetime(until) if until else None,
                policy_mode=self.headers.get("x-ms-immutability-policy-mode"),
                legal_hold=self.headers.get("x-ms-legal-hold", "false").lower() == "true",
            )
            self._reply(201, {"ETag": '"0x1"', "Last-Modified": _http_date(datetime.now(UTC))})
            return None

        def do_GET(self) -> None:
            blob, _, query = self._record("GET")
            if not blob and query.get("restype") == ["container"]:  # Get Container Properties
                enabled = str(state.versioning_immutability).lower()
                return self._reply(
                    200,
                    {
                        "ETag": '"0x1"',
                        "Last-Modified": _http_date(datetime.now(UTC)),
                        "x-ms-immutable-storage-with-versioning-enabled": enabled,
                    },
                )
            return self._error(400, "UnsupportedByStandIn")

        def do_HEAD(self) -> None:
            blob, _, _ = self._record("HEAD")
            found = state.blobs.get(blob)
            if found is None:
                self._reply(404, {"x-ms-error-code": "BlobNotFound"})
                return
            headers = {
                "x-ms-blob-type": "BlockBlob",
                "x-ms-access-tier": found.tier,
                "x-ms-legal-hold": str(found.legal_hold).lower(),
                "ETag": '"0x1"',
                "Last-Modified": _http_date(datetime.now(UTC)),
                **{f"x-ms-meta-{k}": v for k, v in found.metadata.items()},
            }
            if found.immutable_until is not None:
                headers["x-ms-immutability-policy-until-date"] = _http_date(found.immutable_until)
                headers["x-ms-immutability-policy-mode"] = (found.policy_mode or "").lower()
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(sum(len(b) for b in found.blocks)))
            self.end_headers()

        def do_DELETE(self) -> None:
            blob, _, _ = self._record("DELETE")
            found = state.blobs.get(blob)
            if found is None:
                return self._error(404, "BlobNotFound")
            if found.legal_hold:
                return self._error(409, "BlobImmutableDueToLegalHold")
            if found.immutable_until and found.immutable_until > datetime.now(UTC):
                return self._error(409, "BlobImmutableDueToPolicy")
            del state.blobs[blob]
            self._reply(202)
            return None

    return Handler


@contextmanager
def blob_standin() -> Iterator[BlobStandIn]:
    state = BlobStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
