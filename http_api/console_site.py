"""The web console: the built files of `console/dist`, served at the site root.

Anonymous (the files hold no data; every API call they make is authorised by the API).
Hashed assets are cached for a year, `index.html` never, and every response carries a
strict Content-Security-Policy: scripts, styles and API calls from this origin only, plus
the sign-in authority when the console signs people in with Entra ID.

Any path that is not a file and not under `api/` is a page of the single-page app and
gets `index.html`; a missing asset is a 404, never `index.html` (a browser would run HTML
as a script otherwise).
"""

from __future__ import annotations

import mimetypes
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func

from http_api.errors import ApiError, error_response
from http_api.operations import API_PREFIX, public_route
from shared.auth import AuthConfig, authenticator

DIST = Path(__file__).resolve().parent.parent / "console" / "dist"
INDEX = "index.html"
# Vite puts content-hashed files here: their name changes whenever their content does.
HASHED = "assets/"
SAFE_PATH = re.compile(r"^[A-Za-z0-9._\-/]{0,512}$")
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain",
    ".woff2": "font/woff2",
}
LONG_CACHE = "public, max-age=31536000, immutable"
NOT_BUILT = (
    "<!doctype html><title>Console not built</title><p>The web console has not been built. "
    "Run <code>make run</code> (or <code>npm ci &amp;&amp; npm run build</code> in "
    "<code>console/</code>).</p>"
)


def content_security_policy(config: AuthConfig) -> str:
    """Everything from this origin only; the sign-in authority may be called and framed
    (MSAL renews tokens in a hidden frame) when Entra sign-in is configured."""
    authority = ""
    if config.mode == "entra" and config.entra_ready and config.entra_console_client_id.strip():
        parts = urlsplit(config.authority)
        authority = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self'{authority}; frame-src 'self'{authority}; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def _headers(config: AuthConfig, cache: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(config),
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int) -> bytes:
    return path.read_bytes()


def _file(relative: str) -> Path | None:
    """The file under DIST named by the request path, or None (never outside DIST)."""
    if not SAFE_PATH.match(relative) or ".." in relative.split("/"):
        return None
    candidate = (DIST / relative).resolve()
    if not candidate.is_relative_to(DIST.resolve()) or not candidate.is_file():
        return None
    return candidate


def serve(relative: str, config: AuthConfig, method: str = "GET") -> func.HttpResponse:
    relative = relative.strip("/")
    if relative == "api" or relative.startswith(API_PREFIX):
        return error_response(ApiError(404, "not_found", "no such API route"))
    found = _file(relative) if relative else None
    if found is None and (relative.startswith(HASHED) or Path(relative).suffix):
        return func.HttpResponse("not found", status_code=404, mimetype="text/plain")
    if found is None:
        found = DIST / INDEX
        if not found.is_file():
            return func.HttpResponse(
                NOT_BUILT, status_code=503, headers=_headers(config, "no-store"),
                mimetype="text/html",
            )  # fmt: skip
    hashed = relative.startswith(HASHED) and found.name != INDEX
    body = b"" if method == "HEAD" else _read(found, found.stat().st_mtime_ns)
    mimetype = TYPES.get(found.suffix) or (
        mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    )
    headers = _headers(config, LONG_CACHE if hashed else "no-cache")
    return func.HttpResponse(body, status_code=200, headers=headers, mimetype=mimetype)


@public_route("{*path}", ["GET", "HEAD"])
def console_site(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req.route_params.get("path") or "", authenticator().config, req.method)
