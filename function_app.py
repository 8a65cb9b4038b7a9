"""The Function App: one DFApp, with every function registered from its blueprint.

Loaded unchanged by `func start` on Azure Functions Core Tools and by `python -m emulator`.
"""

import azure.durable_functions as df
import azure.functions as func

from activities import bp as activities
from entities import bp as entities
from http_api import bp as http_api
from orchestrators import bp as orchestrators
from shared.sdk_logging import configure_sdk_logging

# The Azure SDKs log every storage request at INFO: quiet unless AZURE_SDK_LOG_LEVEL says.
configure_sdk_logging()

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (orchestrators, activities, entities, http_api):
    app.register_functions(blueprint)
