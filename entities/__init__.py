"""entities: the `database` lock/state entity and the `server` slot entity, on blueprint `bp`."""

import azure.durable_functions as df

bp = df.Blueprint()

# Entity modules register themselves on `bp` when imported.
from entities import database, server  # noqa: E402,F401
