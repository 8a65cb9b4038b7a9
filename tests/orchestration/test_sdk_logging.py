"""The Azure SDKs do not log every storage request at INFO, unless AZURE_SDK_LOG_LEVEL says."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import run_emulator
from shared.sdk_logging import LOGGERS, configure_sdk_logging
from tests.orchestration.conftest import APP_DIR

HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


@pytest.fixture(autouse=True)
def sdk_levels_restored() -> Iterator[None]:
    yield
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


async def storage_request_logs(
    tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> list[logging.LogRecord]:
    """What the storage SDK logged while the app served one request that reads a table."""
    caplog.set_level(logging.INFO)
    async with run_emulator(APP_DIR, tmp_path / "state.sqlite", env=env) as emu:
        caplog.clear()
        response = await emu.request("GET", "/api/servers")
        assert response.status == 200, response.text
        return [r for r in caplog.records if r.name == HTTP_LOGGER]


async def test_storage_requests_are_not_logged_by_default(
    tmp_path: Path, app_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    assert await storage_request_logs(tmp_path, app_env, caplog) == []


async def test_azure_sdk_log_level_makes_them_verbose_again(
    tmp_path: Path, app_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    env = {**app_env, "AZURE_SDK_LOG_LEVEL": "info"}
    logged = await storage_request_logs(tmp_path, env, caplog)
    assert any("Request URL" in record.getMessage() for record in logged)


def test_a_level_that_is_not_one_falls_back_to_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert configure_sdk_logging({"AZURE_SDK_LOG_LEVEL": "loud"}) == logging.WARNING
    assert "not a logging level" in caplog.text
    assert configure_sdk_logging({"AZURE_SDK_LOG_LEVEL": "DEBUG"}) == logging.DEBUG
    assert logging.getLogger("azure.storage.blob").getEffectiveLevel() == logging.DEBUG
