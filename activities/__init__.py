"""activities: thin adapters from the durable jobs to `shared/`, registered on blueprint `bp`."""

import azure.durable_functions as df

bp = df.Blueprint()

# Activity modules register themselves on `bp` when imported.
from activities import (  # noqa: E402,F401
    backup,
    child_check,
    drills,
    freshness,
    lease_wake,
    notification,
    policy_plan,
    retention,
    settlement,
    verify_restore,
)
