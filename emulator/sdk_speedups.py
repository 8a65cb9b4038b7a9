"""Faster timestamp parsing for the Durable Functions SDK's replay.

The SDK parses every history event's `Timestamp` with `dateutil.parser.parse`, about 0.3 ms
each: replaying a 1,000-event history would spend 300 ms there alone. The emulator writes one
exact format (`YYYY-MM-DDTHH:MM:SS.fffffffZ`, seven digits like .NET, of which dateutil keeps
six), which `datetime.fromisoformat` parses a thousand times faster. `install()` swaps the
SDK's parser for one that takes this fast path and returns the same value dateutil would (same
tzinfo object), and hands every other text to dateutil.
"""

from __future__ import annotations

import importlib
import re
from datetime import datetime
from typing import Any

from dateutil.parser import parse as dateutil_parse

_SDK_MODULE = "azure.durable_functions.models.history.HistoryEvent"

_EXACT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z\Z")
_UTC = dateutil_parse("2000-01-01T00:00:00.000000Z").tzinfo


def parse_timestamp(text: Any, *args: Any, **kwargs: Any) -> datetime:
    if not args and not kwargs and isinstance(text, str) and _EXACT.match(text):
        return datetime.fromisoformat(text[:26]).replace(tzinfo=_UTC)
    return dateutil_parse(text, *args, **kwargs)


def install() -> None:
    """Idempotent; affects only the SDK's history-event parsing."""
    module = importlib.import_module(_SDK_MODULE)
    if getattr(module, "dt_parse", None) is not None:
        module.dt_parse = parse_timestamp
