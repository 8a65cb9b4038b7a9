"""Looking ahead without changing anything: a policy's next slots, a database's retention."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from http_api import bp
from http_api.calls import Call
from http_api.errors import conflict
from http_api.lookups import database_or_404, effective_policy_id, policy_or_404
from http_api.operations import operation
from http_api.schemas.databases import RetentionDecisionOut, RetentionPreview
from http_api.schemas.policies import NextSlots, NextSlotsQuery, SlotOut
from http_api.services import services
from shared.auth import Role
from shared.models import Policy
from shared.retention import plan_retention
from shared.schedule import next_slot

NEXT_SLOTS = operation(
    "GET",
    "/policies/{policy_id}/next-slots",
    Role.READER,
    "Next slots of policy",
    tag="policies",
    query=NextSlotsQuery,
    response=NextSlots,
)
PREVIEW = operation(
    "GET", "/databases/{database_id}/retention-preview", Role.READER, "Preview retention",
    tag="databases", response=RetentionPreview, errors=(409,),
    description="What retention would keep and delete now, and the rule behind each.",
)  # fmt: skip


@bp.route(route=NEXT_SLOTS.route, methods=[NEXT_SLOTS.method])
async def api_next_slots(req: func.HttpRequest) -> func.HttpResponse:
    return await NEXT_SLOTS.serve(req, _next_slots)


@bp.route(route=PREVIEW.route, methods=[PREVIEW.method])
async def api_retention_preview(req: func.HttpRequest) -> func.HttpResponse:
    return await PREVIEW.serve(req, _preview)


def _next_slots(call: Call) -> NextSlots:
    policy_id = call.path_id("policy_id")
    query: NextSlotsQuery = call.query()
    policy = policy_or_404(services(), policy_id)
    slots = upcoming_slots(policy, query.after or datetime.now(UTC), query.count)
    return NextSlots(policy_id=policy_id, slots=slots)


def upcoming_slots(policy: Policy, after: datetime, count: int) -> list[SlotOut]:
    slots: list[SlotOut] = []
    while len(slots) < count and (slot := next_slot(policy, after)) is not None:
        slots.append(SlotOut(at=slot.at, tiers=[tier.value for tier in slot.tier_list()]))
        after = slot.at
    return slots


def _preview(call: Call) -> RetentionPreview:
    database_id = call.path_id("database_id")
    found = services()
    database = database_or_404(found, database_id)
    policy_id = effective_policy_id(found, database)
    if policy_id is None:
        raise conflict("the database has no policy (neither its own nor its server's)")
    policy = policy_or_404(found, policy_id)
    records = {
        record.id: record for record in found.repos.backups.retention_candidates(database_id)
    }
    settings = found.settings
    plan = plan_retention(
        list(records.values()),
        policy,
        datetime.now(UTC),
        manual_keep_days=settings.manual_backup_keep_days,
        failed_keep_days=settings.failed_record_keep_days,
        max_deletes=settings.retention_max_deletes_per_run,
    )
    decisions = [
        RetentionDecisionOut(
            backup_id=decision.record_id,
            action=decision.action.value,
            rule=decision.rule,
            status=records[decision.record_id].status.value,
            tiers=[tier.value for tier in records[decision.record_id].tiers],
            created_at=records[decision.record_id].created_at,
        )
        for decision in plan.decisions
    ]
    return RetentionPreview(
        database_id=database_id, policy_id=policy_id, evaluated_at=plan.evaluated_at,
        deferred=plan.deferred, decisions=decisions,
    )  # fmt: skip
