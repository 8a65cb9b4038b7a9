"""orchestrators: the durable workflows (policy loop, backup, verify, restore, settlement,
drill loop, restore drill, drill cleanup) and the watchdog that keeps every loop running,
settles what jobs left unfinished and watches each database's freshness, registered on
blueprint `bp`."""

import azure.durable_functions as df

bp = df.Blueprint()

# Orchestrator modules register themselves on `bp` when imported.
from orchestrators import (  # noqa: E402,F401
    backup_database,
    drill_cleanup,
    drill_database,
    drill_loop,
    freshness_check,
    policy_loop,
    restore_backup,
    settle_backup,
    verify_backup,
    watchdog,
)
