"""How much the Azure SDKs log. Their HTTP logging policy writes every storage request and
response, headers included, at INFO: half a megabyte per five idle minutes here, and the
same into Application Insights on Azure. They log at WARNING and above unless the setting
AZURE_SDK_LOG_LEVEL (a logging level name: DEBUG, INFO, ...) asks for more.

Read from the environment when the app is loaded, not through `Settings`, so that a wrong
storage setting never stops the app from loading (like WATCHDOG_SCHEDULE).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

SETTING = "AZURE_SDK_LOG_LEVEL"
DEFAULT_LEVEL = logging.WARNING
# The parent of every Azure SDK logger, and the chatty one by name (in case a host set it).
LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy")

log = logging.getLogger(__name__)


def configure_sdk_logging(environ: Mapping[str, str] = os.environ) -> int:
    """Sets the Azure SDK loggers' level from the environment; returns the level."""
    name = environ.get(SETTING, "").strip().upper()
    level = logging.getLevelName(name) if name else DEFAULT_LEVEL
    if not isinstance(level, int):
        log.warning("%s=%r is not a logging level; using WARNING", SETTING, name)
        level = DEFAULT_LEVEL
    for logger in LOGGERS:
        logging.getLogger(logger).setLevel(level)
    return level
