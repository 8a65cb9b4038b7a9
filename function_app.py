"""The Function App: one DFApp, with every function registered from its blueprint.

Loaded unchanged by `func start` on Azure Functions Core Tools and by `python -m emulator`.
"""

import azure.durable_functions as df
import azure.functions as func

from activities import bp as activities
from entities import bp as entities
from http_api import bp as http_api
from orchestrators import bp as orchestrators
from shared.auth import check_development_mode
from shared.sdk_logging import configure_sdk_logging
from shared.telemetry import configure_telemetry

# The Azure SDKs log every storage request at INFO: quiet unless AZURE_SDK_LOG_LEVEL says.
configure_sdk_logging()

# Metrics and the app's log lines go to Application Insights when its connection string is set.
configure_telemetry()

# Development mode where it may not run (on Azure, off loopback) stops the app here.
check_development_mode()

# No function key: a browser (the console) cannot keep one secret. Every API operation checks
# its caller itself, deny by default (http_api/operations.py: a bearer token with a role, or
# development mode on loopback); the durable management webhooks keep their system key.
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (orchestrators, activities, entities, http_api):
    app.register_functions(blueprint)
