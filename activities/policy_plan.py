"""Which databases a policy backs up: the `load_policy_plan` activity, also used by the watchdog."""

from __future__ import annotations

from activities import bp
from activities.wiring import services
from shared.jobs import LOAD_POLICY_PLAN, PolicyPlan, dump_json
from shared.storage.repositories import Repositories


def scheduled_databases(repositories: Repositories) -> dict[str, list[str]]:
    """policy id → ids of the enabled databases it schedules (sorted, for a stable fan-out)."""
    servers = {server.id: server for server in repositories.servers.all()}
    plans: dict[str, list[str]] = {}
    for database in repositories.databases.all():
        policy_id = database.policy_under(servers.get(database.server_id))
        if database.enabled and policy_id is not None:
            plans.setdefault(policy_id, []).append(database.id)
    return {policy_id: sorted(ids) for policy_id, ids in plans.items()}


def plan_for(repositories: Repositories, policy_id: str) -> PolicyPlan:
    policy = repositories.policies.get(policy_id)
    if policy is None:
        return PolicyPlan()
    return PolicyPlan(
        policy=policy, database_ids=scheduled_databases(repositories).get(policy_id, [])
    )


@bp.activity_trigger(input_name="policy_id", activity=LOAD_POLICY_PLAN)
def load_policy_plan(policy_id: str) -> dict:
    return dump_json(plan_for(services().repositories, policy_id))
