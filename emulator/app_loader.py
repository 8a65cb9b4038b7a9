"""Loads a Function App the way the Python worker does.

Settings from `local.settings.json` enter the environment first (already-set variables win),
then `function_app.py` is imported with the app folder on `sys.path`, its single
`FunctionRegister` is found and `get_functions()` is called exactly once (a second call raises
in azure-functions). Functions are sorted by trigger type.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

from emulator.versioning import FAILURE_STRATEGIES, MATCH_STRATEGIES, Versioning

log = logging.getLogger("emulator")

APP_MODULE = "function_app"
DURABLE_TRIGGERS = {"orchestrationTrigger", "activityTrigger", "entityTrigger"}
SUPPORTED_TRIGGERS = {"httpTrigger", "timerTrigger", *DURABLE_TRIGGERS}
# The Azure Storage provider's rule (extension 2.x AzureStorageOptions.ValidateHubName).
_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,49}")


class AppLoadError(Exception):
    """The app folder cannot be hosted (missing file, two apps, duplicate names…)."""


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    hub_name: str = "TestHubName"
    max_concurrent_activities: int = 8
    versioning: Versioning = field(default_factory=Versioning)
    # the app setting holding the task hub's storage account (storageProvider.connectionName)
    storage_connection: str = "AzureWebJobsStorage"


@dataclass
class LoadedApp:
    app_dir: Path
    config: HostConfig
    http: list[Any] = field(default_factory=list)
    timers: list[Any] = field(default_factory=list)
    orchestrators: dict[str, Any] = field(default_factory=dict)
    activities: dict[str, Any] = field(default_factory=dict)
    entities: dict[str, Any] = field(default_factory=dict)
    # modules present before the app was imported: everything else under app_dir is the app's
    preexisting: frozenset[str] = frozenset()
    # whether loading put app_dir on sys.path (so unloading takes it off again)
    added_to_path: bool = False


def load_local_settings(app_dir: Path) -> list[str]:
    """Copies `Values` of local.settings.json into os.environ; returns the names it set."""
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return []
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    except (OSError, ValueError) as exc:
        raise AppLoadError(f"cannot read {path}: {exc}") from exc
    added = []
    for name, value in values.items():
        if name not in os.environ and value is not None:
            os.environ[name] = str(value)
            added.append(name)
    return added


def read_host_config(app_dir: Path) -> HostConfig:
    path = app_dir / "host.json"
    if not path.is_file():
        return HostConfig()
    try:
        extensions = json.loads(path.read_text(encoding="utf-8")).get("extensions") or {}
    except (OSError, ValueError) as exc:
        raise AppLoadError(f"cannot read {path}: {exc}") from exc
    http = extensions.get("http") or {}
    durable = extensions.get("durableTask") or {}
    provider = durable.get("storageProvider") or {}
    defaults = HostConfig()
    prefix = http.get("routePrefix", defaults.route_prefix)
    hub_name = _resolve_setting(str(durable.get("hubName") or _default_hub_name()))
    if not _HUB_NAME.fullmatch(hub_name):
        raise AppLoadError(
            f"Task hub name '{hub_name}' should contain only alphanumeric characters, start "
            "with a letter, and have length between 3 and 50 (the Functions host refuses it "
            "on Azure too)."
        )
    return HostConfig(
        route_prefix=(prefix or "").strip("/"),
        hub_name=hub_name,
        max_concurrent_activities=int(
            durable.get("maxConcurrentActivityFunctions") or defaults.max_concurrent_activities
        ),
        versioning=_versioning(durable, path),
        storage_connection=str(
            provider.get("connectionName")
            or provider.get("connectionStringName")
            or defaults.storage_connection
        ),
    )


def _versioning(durable: dict[str, Any], path: Path) -> Versioning:
    """`defaultVersion`, `versionMatchStrategy`, `versionFailureStrategy` (versioning.py)."""
    defaults = Versioning()

    def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
        value = str(durable.get(key) or default)
        for name in allowed:
            if name.lower() == value.lower():
                return name
        raise AppLoadError(f"{path}: durableTask.{key} is {value!r}, not one of {allowed}")

    return Versioning(
        default_version=_resolve_setting(str(durable.get("defaultVersion") or "")),
        match_strategy=choice("versionMatchStrategy", MATCH_STRATEGIES, defaults.match_strategy),
        failure_strategy=choice(
            "versionFailureStrategy", FAILURE_STRATEGIES, defaults.failure_strategy
        ),
    )


def _default_hub_name() -> str:
    """The extension's default (DurableTaskOptions.HubName): the site name, letters and
    digits only, else `TestHubName` (locally, where WEBSITE_SITE_NAME is not set)."""
    site = "".join(c for c in os.environ.get("WEBSITE_SITE_NAME", "") if c.isalnum())
    return site or HostConfig.hub_name


def _resolve_setting(value: str) -> str:
    """`%NAME%` means "the app setting NAME", as in host.json and binding attributes."""
    if len(value) > 2 and value.startswith("%") and value.endswith("%"):
        return os.environ.get(value[1:-1], value)
    return value


def import_function_app(
    app_dir: Path,
) -> tuple[func.FunctionRegister, frozenset[str], bool]:
    """Imports app_dir/function_app.py; returns the app, the modules present before, and
    whether app_dir had to be put on sys.path."""
    script = app_dir / f"{APP_MODULE}.py"
    if not script.is_file():
        raise AppLoadError(f"{script} does not exist")
    sys.modules.pop(APP_MODULE, None)
    before = set(sys.modules)
    path_entry = str(app_dir)
    added_to_path = path_entry not in sys.path
    if added_to_path:
        sys.path.insert(0, path_entry)
    spec = importlib.util.spec_from_file_location(APP_MODULE, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[APP_MODULE] = module
    spec.loader.exec_module(module)
    return _single_app(module, script), frozenset(before), added_to_path


def _single_app(module: Any, script: Path) -> func.FunctionRegister:
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if not apps:
        raise AppLoadError(f"{script} defines no FunctionApp")
    if len({id(a) for a in apps}) > 1:
        raise AppLoadError(f"{script} defines more than one FunctionApp")
    return apps[0]


def trigger_name(function: Any) -> str:
    """The durable name: the trigger's explicit name, else the function name."""
    trigger = function.get_trigger()
    explicit = (
        getattr(trigger, "orchestration", None)
        or getattr(trigger, "activity", None)
        or getattr(trigger, "entity_name", None)
    )
    return str(explicit or function.get_function_name())


def classify(app: LoadedApp, functions: list[Any]) -> None:
    for function in functions:
        trigger_type = function.get_trigger().type
        if trigger_type not in SUPPORTED_TRIGGERS:
            log.warning(
                "function %s: trigger %s is not supported by the emulator; skipped",
                function.get_function_name(),
                trigger_type,
            )
        elif trigger_type == "httpTrigger":
            app.http.append(function)
        elif trigger_type == "timerTrigger":
            app.timers.append(function)
        elif trigger_type == "orchestrationTrigger":
            app.orchestrators[trigger_name(function)] = function
        elif trigger_type == "activityTrigger":
            app.activities[trigger_name(function)] = function
        else:
            app.entities[trigger_name(function).lower()] = function


def is_disabled(function: Any) -> bool:
    """`AzureWebJobs.<name>.Disabled` = true/1 disables a function, as on Azure."""
    value = os.environ.get(f"AzureWebJobs.{function.get_function_name()}.Disabled", "")
    return value.strip().lower() in {"1", "true"}


def load_app(app_dir: Path) -> LoadedApp:
    app_dir = app_dir.resolve()
    load_local_settings(app_dir)
    config = read_host_config(app_dir)
    register, preexisting, added_to_path = import_function_app(app_dir)
    loaded = LoadedApp(
        app_dir=app_dir, config=config, preexisting=preexisting, added_to_path=added_to_path
    )
    functions = [f for f in register.get_functions() if not is_disabled(f)]
    classify(loaded, functions)
    return loaded


def unload_app(app: LoadedApp) -> None:
    """Forgets the app's modules so another app folder can be imported in this process.

    Only modules imported since the app was loaded, from files under the app folder, go;
    installed packages and the emulator itself stay."""
    keep_under = (str(Path(__file__).resolve().parent), "site-packages")
    for name in [n for n in sys.modules if n not in app.preexisting]:
        origin = getattr(sys.modules.get(name), "__file__", None) or ""
        own = origin.startswith(str(app.app_dir)) and not any(k in origin for k in keep_under)
        if name == APP_MODULE or own:
            sys.modules.pop(name, None)
    entry = str(app.app_dir)
    # Leave an entry someone else put there (pytest puts the project root on the path).
    if app.added_to_path and entry in sys.path:
        sys.path.remove(entry)
