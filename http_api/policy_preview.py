"""`POST /api/policy-preview`: the next slots of a policy being edited, nothing saved.

The console calls it as someone types; a field that is wrong comes back as a 422 naming it
(`body.daily.time`), exactly as saving would.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func
from pydantic import ValidationError

from http_api import bp
from http_api.calls import Call
from http_api.errors import validation_error
from http_api.operations import operation
from http_api.plans import upcoming_slots
from http_api.schemas.insights import PolicyDraft
from http_api.schemas.policies import NextSlots
from shared.auth import Role
from shared.models import Policy

PREVIEW = operation(
    "POST", "/policy-preview", Role.READER, "Preview policy slots", tag="policies",
    body=PolicyDraft, response=NextSlots,
    description="The next slots of an unsaved policy; changes nothing.",
)  # fmt: skip


@bp.route(route=PREVIEW.route, methods=[PREVIEW.method])
async def api_preview_policy(req: func.HttpRequest) -> func.HttpResponse:
    return await PREVIEW.serve(req, _preview)


def _preview(call: Call) -> NextSlots:
    draft: PolicyDraft = call.body()
    try:
        policy = Policy.model_validate(
            {"id": "preview", "name": "preview", **draft.model_dump(exclude={"count"})}
        )
    except ValidationError as exc:
        raise validation_error(exc, "body") from None
    return NextSlots(
        policy_id="preview", slots=upcoming_slots(policy, datetime.now(UTC), draft.count)
    )
