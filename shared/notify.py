"""Posting a JSON notification to a webhook (NOTIFY_WEBHOOK_URL): small and dependency-free.

What is notified (shared/jobs.py `Notification`): a failed backup and the first success
after failures, a failed restore drill, a database that became stale or fresh again, and a
policy loop the watchdog had to restart.

The body holds ids, counts and a sanitised error; never a secret. The URL itself may carry
a token (many webhook services work that way), so it is never logged or put in an error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_SECONDS = 10.0


class NotificationFailed(Exception):
    """The webhook did not accept the notification (the message never holds the URL)."""


def post_json(url: str, payload: dict[str, Any], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """POSTs `payload`; returns the HTTP status (2xx) or raises NotificationFailed."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise NotificationFailed("the webhook URL must be http(s)")
    body = json.dumps(payload, default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "dilux-backup"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        # The scheme is checked above; the URL is the operator's own setting.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise NotificationFailed(f"the webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotificationFailed(f"the webhook is unreachable ({type(reason).__name__})") from None


def notify(url: str | None, payload: dict[str, Any]) -> bool:
    """True when posted, False when no webhook is configured; NotificationFailed otherwise."""
    if not url:
        return False
    post_json(url, payload)
    return True
