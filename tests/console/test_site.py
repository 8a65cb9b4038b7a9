"""The console's files as the Function App serves them: types, caching, CSP, SPA fallback,
and nothing outside the built folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from http_api import console_site
from shared.auth import AuthConfig

ENTRA = AuthConfig(
    auth_mode="entra", entra_tenant_id="tenant-1", entra_audience="api://dilux",
    entra_console_client_id="console-app",
)  # fmt: skip


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Dilux</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "assets" / "style-abc123.css").write_text("body{}")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("outside")
    monkeypatch.setattr(console_site, "DIST", tmp_path)
    return tmp_path


def header(response: object, name: str) -> str:
    return response.headers.get(name, "")  # type: ignore[attr-defined]


def test_hashed_assets_are_cached_for_a_year_with_their_type(dist: Path) -> None:
    script = console_site.serve("assets/index-abc123.js", AuthConfig(auth_mode="development"))
    assert script.status_code == 200 and script.get_body() == b"console.log(1)"
    assert script.mimetype == "text/javascript"
    assert header(script, "Cache-Control") == "public, max-age=31536000, immutable"
    style = console_site.serve("assets/style-abc123.css", AuthConfig(auth_mode="development"))
    assert style.mimetype == "text/css"
    icon = console_site.serve("favicon.svg", AuthConfig(auth_mode="development"))
    assert icon.mimetype == "image/svg+xml" and header(icon, "Cache-Control") == "no-cache"


@pytest.mark.parametrize("path", ["", "databases", "backups/shop/abc", "policies/new"])
def test_pages_of_the_app_get_index_html_never_cached(dist: Path, path: str) -> None:
    page = console_site.serve(path, AuthConfig(auth_mode="development"))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"<title>Dilux</title>" in page.get_body()
    assert header(page, "Cache-Control") == "no-cache"
    assert header(page, "X-Content-Type-Options") == "nosniff"


def test_csp_is_strict_and_names_the_authority_only_with_entra_sign_in(dist: Path) -> None:
    local = header(
        console_site.serve("", AuthConfig(auth_mode="development")), "Content-Security-Policy"
    )
    assert "default-src 'self'" in local and "script-src 'self';" in local
    assert "frame-ancestors 'none'" in local and "connect-src 'self';" in local
    assert "unsafe" not in local and "login.microsoftonline.com" not in local
    entra = header(console_site.serve("", ENTRA), "Content-Security-Policy")
    assert "connect-src 'self' https://login.microsoftonline.com;" in entra
    assert "frame-src 'self' https://login.microsoftonline.com;" in entra


@pytest.mark.parametrize(
    "path", ["assets/missing-123.js", "missing.png", "../secret.txt", "assets/../../secret.txt"]
)
def test_missing_files_and_escapes_are_404(dist: Path, path: str) -> None:
    response = console_site.serve(path, AuthConfig(auth_mode="development"))
    assert response.status_code == 404 and b"outside" not in response.get_body()


def test_unknown_api_paths_are_json_404s_not_the_app(dist: Path) -> None:
    response = console_site.serve("api/nothing-here", AuthConfig(auth_mode="development"))
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert b'"not_found"' in response.get_body()


def test_head_sends_no_body(dist: Path) -> None:
    response = console_site.serve("", AuthConfig(auth_mode="development"), "HEAD")
    assert response.status_code == 200 and response.get_body() == b""


def test_a_console_not_built_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_site, "DIST", tmp_path / "nothing")
    response = console_site.serve("", AuthConfig(auth_mode="development"))
    assert response.status_code == 503 and b"make run" in response.get_body()
