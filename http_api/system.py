"""`GET /api/system`: what the app runs with and whether what it depends on answers.

Versions (app, Python, SDKs, host, dump tools), the effective configuration with every
secret shown only as set or not set, one live check per dependency (table storage, the
backup container, the secret store, token validation), each server's last connection test
(from the audit log), and whether the app is VNet-integrated.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

import aiohttp
import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.operations import operation
from http_api.schemas.insights import Check, Setting, SystemReport, ToolVersion
from http_api.services import Services, services
from shared.auth import AuthConfig, Role, authenticator
from shared.auth.authenticate import AZURE_MARKERS
from shared.auth.principal import ROLE_CLAIMS
from shared.engines.outcomes import MESSAGES, Outcome
from shared.engines.tools import find_all
from shared.secrets import server_secret_name

SYSTEM = operation(
    "GET", "/system", Role.READER, "Get system status", tag="status", response=SystemReport,
    description="Versions, effective configuration (no secret), dependency checks, each "
    "server's last connection test, network integration.",
)  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("pg_dump", "psql", "mariadb-dump", "mariadb", "mysqldump", "mysql")
PACKAGES = ("azure-functions", "azure-functions-durable", "azure-storage-blob", "pydantic")
JWKS_TIMEOUT_SECONDS = 5
# Only names, never values: these are shown as "set" or "not set".
SECRET_SETTINGS = ("backup_storage_connection_string", "local_secret_key", "notify_webhook_url")
SHOWN_SETTINGS = (
    "backup_storage_account_name", "backup_container", "table_prefix", "secret_store",
    "key_vault_url", "local_secret_key_file", "compression_level", "compression_threads",
    "block_size_mb", "upload_concurrency", "dump_timeout_seconds", "connect_timeout_seconds",
    "server_max_concurrent_backups", "manual_backup_keep_days", "failed_record_keep_days",
    "retention_max_deletes_per_run", "dump_max_attempts", "dump_retry_seconds", "auth_mode",
    "entra_tenant_id", "entra_audience", "entra_console_client_id", "entra_api_scope",
    "entra_authority", "vnet_subnet_id",
)  # fmt: skip
ROLE_HELP = {
    "claims": sorted(ROLE_CLAIMS),
    "how": "People and groups get a role in Microsoft Entra ID: Enterprise applications → "
    "the API's application → Users and groups → Add assignment, then pick Backup.Reader, "
    "Backup.Operator or Backup.Admin. Roles arrive in the token's roles claim; there is no "
    "user list in this app.",
    "development": "In development mode every caller on this machine is an admin.",
}


@bp.route(route=SYSTEM.route, methods=[SYSTEM.method])
async def api_get_system(req: func.HttpRequest) -> func.HttpResponse:
    async def handle(call: Call) -> SystemReport:
        found = services()
        config = authenticator().config
        checks = await asyncio.gather(
            asyncio.to_thread(_timed, "table storage", lambda: _tables(found)),
            asyncio.to_thread(_timed, "backup container", lambda: _container(found)),
            asyncio.to_thread(_timed, "secret store", lambda: _secrets(found)),
            _token_validation(config),
        )
        servers = await asyncio.to_thread(_last_tests, found)
        return SystemReport(
            generated_at=datetime.now(UTC),
            versions=_versions(),
            tools=await asyncio.to_thread(_tools),
            configuration=_configuration(found),
            dependencies=list(checks),
            servers=servers,
            network=_network(found),
            roles=ROLE_HELP,
        )

    return await SYSTEM.serve(req, handle)


def _timed(name: str, probe: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        message = probe()
        ok = True
    except Exception as exc:  # the check reports it; its text may quote a URL, so not shown
        message, ok = f"failed: {type(exc).__name__}", False
    elapsed = (time.perf_counter() - started) * 1000
    return Check(name=name, ok=ok, message=message, latency_ms=round(elapsed, 1))


def _tables(found: Services) -> str:
    found.repos.policies.list(page_size=1)
    return "answers"


def _container(found: Services) -> str:
    store = found.blobs()
    if not store.container_exists():
        raise LookupError("the backup container does not exist")
    return f"container {found.settings.backup_container!r} exists"


def _secrets(found: Services) -> str:
    # A read of a name no server uses: it proves the store answers and we may read it.
    found.secrets.get(server_secret_name("health-probe-0"))
    return f"{found.settings.secret_store.value} store answers"


async def _token_validation(config: AuthConfig) -> Check:
    if config.mode == "development":
        return Check(name="token validation", ok=None, message="development mode: no tokens")
    if config.mode != "entra" or not config.entra_ready:
        return Check(name="token validation", ok=False, message="not configured: all refused")
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=JWKS_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(config.jwks_url) as response,
        ):
            response.raise_for_status()
            document = await response.json(content_type=None)
        keys = len(document.get("keys", [])) if isinstance(document, dict) else 0
        ok, message = keys > 0, f"{keys} signing key(s) published"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        ok, message = False, f"signing keys unreachable: {type(exc).__name__}"
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return Check(name="token validation", ok=ok, message=message, latency_ms=elapsed)


def _last_tests(found: Services) -> list[Check]:
    """Each server's newest `server.test` audit entry (the last two months at most)."""
    latest: dict[str, Check] = {}
    page = found.repos.audit.list(page_size=200, action="server.test")
    for entry in page.items:
        server_id = entry.resource.removeprefix("servers/")
        if server_id in latest:
            continue
        details = entry.details or {}
        where = f"{details.get('host')}:{details.get('port')}"
        message = (
            f"reached {where}"
            if entry.outcome == "succeeded"
            else f"{_failure(details)} at {where}"
        )
        latest[server_id] = Check(
            name=server_id, ok=entry.outcome == "succeeded", message=message, at=entry.at
        )
    checks = []
    for server in found.repos.servers.all():
        never = Check(name=server.id, ok=None, message="never tested from here")
        checks.append(latest.get(server.id, never))
    return checks


def _failure(details: dict) -> str:
    """The fixed sentence of a failed test's outcome (entries before outcomes existed
    named the error's kind)."""
    try:
        return MESSAGES[Outcome(details.get("outcome"))]
    except ValueError:
        return str(details.get("error_kind") or "failed")


@cache
def _app_version() -> str | None:
    try:
        with (ROOT / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _versions() -> dict[str, str | None]:
    on_azure = any(os.environ.get(marker) for marker in AZURE_MARKERS)
    host = (
        f"Azure Functions {os.environ.get('FUNCTIONS_EXTENSION_VERSION', '?')}"
        if on_azure
        else "local host (not Azure)"
    )
    versions: dict[str, str | None] = {
        "app": _app_version(), "python": platform.python_version(), "host": host,
    }  # fmt: skip
    versions.update({name: _package_version(name) for name in PACKAGES})
    return versions


def _tools() -> list[ToolVersion]:
    found = []
    for name in TOOLS:
        tools = find_all(name)
        if not tools:
            found.append(ToolVersion(name=name, version=None, source="not found"))
        for tool in tools:
            found.append(ToolVersion(name=name, version=tool.version, source=tool.source))
    return found


def _configuration(found: Services) -> list[Setting]:
    settings = found.settings
    shown = [
        Setting(name=name.upper(), value=_text(getattr(settings, name))) for name in SHOWN_SETTINGS
    ]
    hidden = [
        Setting(name=name.upper(), value="set" if getattr(settings, name) else "not set")
        for name in SECRET_SETTINGS
    ]
    return shown + hidden


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _network(found: Services) -> Check:
    if not any(os.environ.get(marker) for marker in AZURE_MARKERS):
        return Check(name="VNet integration", ok=None, message="not running on Azure")
    subnet = found.settings.vnet_subnet_id
    if subnet:
        return Check(name="VNet integration", ok=True, message=f"outbound through {subnet}")
    return Check(name="VNet integration", ok=False, message="not integrated: public outbound")
