"""Loading a Function App folder like the Python worker."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from emulator.app_loader import AppLoadError, HostConfig, load_app, read_host_config, unload_app
from emulator.invokers import InvokerFactory
from tests.emulator.conftest import EMULATOR_APP

TWO_APPS = """
import azure.functions as func
first = func.FunctionApp()
second = func.FunctionApp()
"""

SETTINGS_APP = """
import os
import azure.functions as func
import helper_{tag}
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
SEEN = os.environ.get("EMU_LOADER_SETTING")

@app.route(route="x")
def x(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(SEEN or "")

@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def queued(msg: func.QueueMessage) -> None:
    pass
"""


def _write_app(folder: Path, source: str, tag: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function_app.py").write_text(source.replace("{tag}", tag))
    (folder / f"helper_{tag}.py").write_text("VALUE = 1\n")
    return folder


def test_two_function_apps_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="more than one"):
        load_app(_write_app(tmp_path / "two", TWO_APPS))


def test_missing_function_app_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="does not exist"):
        load_app(tmp_path)


def test_local_settings_enter_the_environment_without_overriding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _write_app(tmp_path / "app", SETTINGS_APP)
    values = {"EMU_LOADER_SETTING": "from-file", "EMU_LOADER_KEPT": "from-file"}
    (folder / "local.settings.json").write_text(json.dumps({"Values": values}))
    monkeypatch.setenv("EMU_LOADER_KEPT", "from-env")
    monkeypatch.delenv("EMU_LOADER_SETTING", raising=False)
    app = load_app(folder)
    try:
        assert sys.modules["function_app"].SEEN == "from-file"
        assert os.environ["EMU_LOADER_KEPT"] == "from-env"
        # the queue trigger is not hosted; the HTTP route is
        assert [f.get_function_name() for f in app.http] == ["x"]
        assert not app.timers and not app.orchestrators
    finally:
        monkeypatch.delenv("EMU_LOADER_SETTING", raising=False)
        unload_app(app)
    assert "function_app" not in sys.modules
    assert "helper_a" not in sys.modules
    assert str(folder) not in sys.path


def test_unloading_keeps_a_path_entry_the_loader_did_not_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _write_app(tmp_path / "app", SETTINGS_APP)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("EMU_LOADER_SETTING", raising=False)
    unload_app(load_app(folder))
    assert str(folder) in sys.path


def test_host_json_settings(tmp_path: Path) -> None:
    host = {
        "extensions": {
            "http": {"routePrefix": ""},
            "durableTask": {"hubName": "MyHub", "maxConcurrentActivityFunctions": 3},
        }
    }
    (tmp_path / "host.json").write_text(json.dumps(host))
    config = read_host_config(tmp_path)
    assert (config.route_prefix, config.hub_name, config.max_concurrent_activities) == (
        "",
        "MyHub",
        3,
    )


def _durable_config(folder: Path, durable: dict[str, object]) -> HostConfig:
    (folder / "host.json").write_text(json.dumps({"extensions": {"durableTask": durable}}))
    return read_host_config(folder)


def test_the_task_hub_name_is_checked_and_defaulted_like_the_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Extension 2.x: DurableTaskOptions.HubName (WEBSITE_SITE_NAME ?? "TestHubName") and
    AzureStorageOptions' hub name rule, which stops the host on Azure."""
    monkeypatch.delenv("WEBSITE_SITE_NAME", raising=False)
    assert _durable_config(tmp_path, {}).hub_name == "TestHubName"
    monkeypatch.setenv("WEBSITE_SITE_NAME", "dilux-prod")
    assert _durable_config(tmp_path, {}).hub_name == "diluxprod"
    for bad in ("my-hub", "1hub", "ab", "h" * 51, "%UNSET_HUB_SETTING%"):
        with pytest.raises(AppLoadError, match="should contain only alphanumeric"):
            _durable_config(tmp_path, {"hubName": bad})
    provider = {"storageProvider": {"connectionName": "HubStorage"}}
    assert _durable_config(tmp_path, provider).storage_connection == "HubStorage"
    assert _durable_config(tmp_path, {}).storage_connection == "AzureWebJobsStorage"


def test_host_json_defaults(tmp_path: Path) -> None:
    config = read_host_config(tmp_path)
    assert config.route_prefix == "api"


def test_test_app_is_classified_by_trigger() -> None:
    app = load_app(EMULATOR_APP)
    try:
        assert app.config.hub_name == "EmulatorTestHub"
        assert {"fan_out", "hello_chain", "wait_for_approval"} <= set(app.orchestrators)
        assert {"slow_square", "say_hello"} <= set(app.activities)
        assert set(app.entities) == {"counter"}
        assert sorted(f.get_function_name() for f in app.timers) == ["nightly", "singleton_starter"]
        registry = InvokerFactory(app, lambda: "{}").registry()
        assert set(registry.activities) == set(app.activities)
    finally:
        unload_app(app)


def test_disabled_function_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobs.nightly.Disabled", "true")
    app = load_app(EMULATOR_APP)
    try:
        assert [f.get_function_name() for f in app.timers] == ["singleton_starter"]
    finally:
        unload_app(app)


async def test_activity_invokers_use_the_worker_encoding() -> None:
    app = load_app(EMULATOR_APP)
    factory = InvokerFactory(app, lambda: "{}")
    try:
        registry = factory.registry()
        assert await registry.activities["say_hello"]('"Bob"') == '"Hello Bob!"'
        # input that is not JSON reaches the function as the raw string
        assert await registry.activities["say_hello"]("Ann") == '"Hello Ann!"'
        assert await registry.activities["slow_square"]("7") == "49"
    finally:
        factory.close()
        unload_app(app)
