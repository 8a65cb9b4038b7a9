"""What every operation refuses before it looks at the caller.

- A body larger than the API needs (413). The host has buffered it already: this bounds what
  the app parses; the host's own limit (`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`, set by the
  template and the local settings) bounds what is buffered.
- A change a browser could have been made to send from another site. A page elsewhere can
  make the developer's browser POST a form or a `text/plain` body without asking anyone
  (no CORS preflight), with the browser's cookies and to loopback addresses. So every change
  must say `Content-Type: application/json` (a cross-site page cannot send that without a
  preflight, which nothing here answers) and, when the browser says where the request comes
  from (`Origin`, `Sec-Fetch-Site`), come from this same origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.functions as func

from http_api.errors import ApiError

MAX_BODY_BYTES = 2**20
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"


def check_request(req: func.HttpRequest) -> None:
    """Raises ApiError (413, 403 or 415) for a request no operation may serve."""
    _check_size(req)
    if req.method.upper() in CHANGING_METHODS:
        _check_same_origin(req)
        _check_json(req)


def _check_size(req: func.HttpRequest) -> None:
    declared = req.headers.get("content-length", "")
    too_large = declared.isdigit() and int(declared) > MAX_BODY_BYTES
    if too_large or len(req.get_body() or b"") > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")


def _check_same_origin(req: func.HttpRequest) -> None:
    site = req.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() != "same-origin":
        raise _cross_origin()
    origin = req.headers.get("origin")
    if origin is not None and _authority(origin) not in _own_authorities(req):
        raise _cross_origin()


def _check_json(req: func.HttpRequest) -> None:
    media_type = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != JSON:
        raise ApiError(415, "unsupported_media_type", f"changes must be sent as {JSON}")


def _cross_origin() -> ApiError:
    return ApiError(403, "cross_origin", "changes are accepted from this origin only")


def _authority(url: str) -> str | None:
    """`host[:port]` of an origin, lower-case; None when it is not one (e.g. `null`)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def _own_authorities(req: func.HttpRequest) -> set[str]:
    """This app's `host[:port]` as the request reached it (its Host header and its URL).

    The scheme is not compared: the host may see plain HTTP behind a front end that
    terminated TLS, and a browser omits the default port of either scheme alike.
    """
    own = {req.headers.get("host", "").strip().lower(), _authority(req.url)}
    return {authority for authority in own if authority}
