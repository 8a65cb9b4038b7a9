"""A reduced full slot (20 databases on 2 servers, 2 dumps at a time per server) through
the emulator, the policy loop, `backup_database` and the entities: every backup completes
and no server ever runs more dumps than its limit. A correctness check, not a timing one
(bench/fanout.py measures the 200-database slot)."""

from __future__ import annotations

import pytest

from tests.orchestration.fake_worker import DumpSpan
from tests.orchestration.fanout import Fanout, cap_violations, run_fanout


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_full_slot_completes_within_every_servers_limit() -> None:
    fanout = Fanout(databases=20, servers=2, cap=2, dump_seconds=0.5, activity_concurrency=8)
    result = await run_fanout(fanout, timeout=600)
    assert result.completed == fanout.databases
    assert result.cap_violations == 0


def test_cap_violations_are_counted_from_the_dumps_own_times() -> None:
    def span(server: str, start: float, end: float) -> DumpSpan:
        return DumpSpan(server, f"db-{start}", start, end)

    back_to_back = [span("s", 0, 1), span("s", 1, 2), span("s", 0, 2)]  # an end, then a start
    assert cap_violations(back_to_back, cap=2) == 0
    overlapping = [span("s", 0, 3), span("s", 1, 3), span("s", 2, 3), span("t", 0, 3)]
    assert cap_violations(overlapping, cap=2) == 1
    assert cap_violations(overlapping, cap=1) == 2
