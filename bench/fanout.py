"""Fan-out benchmark: a full slot of 200 databases on 5 servers through the emulator.

The product's policy loop starts one `backup_database` orchestration per database; each takes
its database lock and a slot of its server (`max_concurrent_backups` = 2) from the entities,
"dumps" with a fake that takes a fixed time (FANOUT_DUMP_SECONDS, default 2) and commits a
small real blob, records the result and releases. Everything else runs for real against
Azurite (AZURITE_*_PORT, as `make bench` starts it), on the wall clock.

Prints one JSON line: fanout_databases, fanout_completed (must equal it),
fanout_cap_violations (dumps started while their server already ran its limit; must be 0),
fanout_overhead_s_per_backup = (wall time - ideal time) / databases, the ideal being what
the caps allow: 40 dumps per server, 2 at a time. Target: <= 0.25 s per backup.

The emulator runs activities 14 at a time (the caps' 10 dumps, and room for the short
activities around them), where the app's host.json says 4: on Azure that is per instance,
and a slot this size scales out to several.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.orchestration.fanout import Fanout, run_fanout

FANOUT = Fanout(
    databases=int(os.environ.get("FANOUT_DATABASES", "200")),
    servers=int(os.environ.get("FANOUT_SERVERS", "5")),
    cap=int(os.environ.get("FANOUT_CAP", "2")),
    dump_seconds=float(os.environ.get("FANOUT_DUMP_SECONDS", "2")),
    activity_concurrency=int(os.environ.get("FANOUT_ACTIVITY_CONCURRENCY", "14")),
)


async def main() -> None:
    result = await run_fanout(FANOUT)
    print(json.dumps(result.as_json()))


if __name__ == "__main__":
    asyncio.run(main())
