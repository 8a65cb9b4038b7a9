"""Connection tests and discoveries cannot be used as a fast port scanner, nor to flood the
audit log: a rate per caller (429 beyond), and past the first few probes of a window one
audit entry counting the rest."""

from __future__ import annotations

import asyncio
import socket
import sys

from http_api.probes import PER_MINUTE
from tests.api.conftest import Api


def closed_ports(count: int) -> list[int]:
    """Ports nothing listens on: a probe of one is refused at once."""
    ports = []
    for _ in range(count):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    return ports


async def mariadb_server(api: Api) -> str:
    body = {"id": "probe", "name": "probe", "engine": "mariadb", "host": "127.0.0.1",
            "port": 3306, "username": "root", "tls_mode": "disable"}  # fmt: skip
    created = await api.call("POST", "servers", json=body)
    assert created.status == 201, created.text
    return created.json()["id"]


def target(port: int) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": port, "username": "root", "password": "pw"}


async def test_a_caller_gets_429_past_the_rate_of_probes(api: Api) -> None:
    server_id = await mariadb_server(api)
    path = f"servers/{server_id}/test"
    scanner = api.idp.token("operator", oid="scanner")
    statuses = []
    for port in closed_ports(PER_MINUTE + 3):  # one at a time: the cap on probes at once holds
        answer = await api.call("POST", path, token=scanner, json=target(port))
        statuses.append(answer.status)
    assert statuses == [200] * PER_MINUTE + [429] * 3, statuses
    limited = await api.call("GET", f"servers/{server_id}/discover", token=scanner)
    assert limited.status == 429 and "a minute" in limited.json()["error"]["message"]
    # Another caller has a rate of their own.
    other = await api.call("POST", path, "operator", json=target(closed_ports(1)[0]))
    assert other.status == 200, other.text


async def test_probes_past_the_first_few_are_one_audit_entry_with_their_count(
    api: Api,
) -> None:
    windows = sys.modules["http_api.services"].services().probe_audit
    windows.seconds = 3.0  # a short window, so the test sees it close
    server_id = await mariadb_server(api)
    path = f"servers/{server_id}/test"
    scanner = api.idp.token("operator", oid="scanner")
    ports = closed_ports(PER_MINUTE + 5)
    for port in ports:  # the last five are refused (429): counted as well
        await api.call("POST", path, token=scanner, json=target(port))

    async def entries() -> list[dict]:
        page = await api.call(
            "GET", "audit", "admin", params={"action": "server.test", "page_size": "200"}
        )
        assert page.status == 200, page.text
        return [e for e in page.json()["items"] if e["actor"].startswith("scanner")]

    first = await entries()
    individual = [entry for entry in first if not entry["details"].get("aggregated")]
    summaries = [entry for entry in first if entry["details"].get("aggregated")]
    assert len(individual) == windows.individually
    assert all(entry["details"]["port"] in ports for entry in individual)
    assert len(summaries) == 1 and summaries[0]["details"]["attempts"] == 1
    await asyncio.sleep(windows.seconds + 1)
    [summary] = [entry for entry in await entries() if entry["details"].get("aggregated")]
    details = summary["details"]
    assert details["attempts"] == len(ports) - windows.individually
    assert details["outcomes"] == {"unreachable": PER_MINUTE - windows.individually, "failed": 5}
    assert len(details["targets"]) == windows.max_targets and details["targets_left_out"] > 0
    assert summary["outcome"] == "failed"
    # The next window starts with single entries again (this one refused: still the rate).
    again = await api.call("POST", path, token=scanner, json=target(ports[0]))
    assert again.status == 429
    assert len(await entries()) == windows.individually + 2
