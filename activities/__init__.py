"""activities: Durable Functions registered on the app through the blueprint `bp`."""

import azure.durable_functions as df

bp = df.Blueprint()
