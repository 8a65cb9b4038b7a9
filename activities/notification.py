"""`send_notification`: a notification (shared/notify.py), posted to NOTIFY_WEBHOOK_URL when set."""

from __future__ import annotations

from activities import bp
from activities.wiring import services
from shared.jobs import SEND_NOTIFICATION, Notification, dump_json
from shared.notify import notify


@bp.activity_trigger(input_name="data", activity=SEND_NOTIFICATION)
def send_notification(data: dict) -> bool:
    """True when posted, False when no webhook is configured; raises when the post failed."""
    note = dump_json(Notification.model_validate(data))
    return notify(services().settings.notify_webhook_url, note)
