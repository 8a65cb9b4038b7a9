"""The HTTP API, registered on the app through the blueprint `bp`."""

import azure.durable_functions as df

bp = df.Blueprint()

# Route modules register themselves on `bp` when imported.
from http_api import (  # noqa: E402,F401
    audit_log,
    backups,
    console_config,
    console_site,
    databases,
    drills,
    health,
    insights,
    job_list,
    jobs,
    keys,
    me,
    openapi,
    plans,
    policies,
    policy_preview,
    server_actions,
    servers,
    status,
    system,
)
