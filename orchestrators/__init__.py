"""orchestrators: the durable workflows (policy loop, backup, verify, restore, settlement)
and the watchdog that keeps every policy loop running and settles what jobs left
unfinished, registered on blueprint `bp`."""

import azure.durable_functions as df

bp = df.Blueprint()

# Orchestrator modules register themselves on `bp` when imported.
from orchestrators import (  # noqa: E402,F401
    backup_database,
    policy_loop,
    restore_backup,
    settle_backup,
    verify_backup,
    watchdog,
)
