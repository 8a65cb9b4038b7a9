"""`send_notification`: a failure or a recovery, posted to NOTIFY_WEBHOOK_URL when it is set."""

from __future__ import annotations

from activities import bp
from activities.wiring import services
from shared.jobs import SEND_NOTIFICATION, Notification, dump_json
from shared.notify import post_json


@bp.activity_trigger(input_name="data", activity=SEND_NOTIFICATION)
def send_notification(data: dict) -> bool:
    """True when posted, False when no webhook is configured; raises when the post failed."""
    url = services().settings.notify_webhook_url
    if not url:
        return False
    post_json(url, dump_json(Notification.model_validate(data)))
    return True
