"""The schedule math behind the calendar and the slot previews is bounded: a range or a date
a console never asks for is a 422 naming the limit, answered at once, never minutes of CPU
nor a 500 from `datetime` overflowing at year 1 or 9999."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import Api


async def hourly_database(api: Api) -> None:
    """Server `srv` with database `db` under an hourly policy: a slot every hour, the most
    the schedule math can be asked to walk through."""
    hourly = {"id": "every-hour", "name": "h", "hourly": {"keep_count": 24, "every_hours": 1}}
    policy = await api.call("POST", "policies", json=hourly)
    assert policy.status == 201, policy.text
    server = await api.call(
        "POST", "servers",
        json={"id": "srv", "name": "s", "engine": "postgresql", "host": "127.0.0.1",
              "port": 5432, "username": "postgres", "default_policy_id": "every-hour"},
    )  # fmt: skip
    assert server.status == 201, server.text
    database = await api.call(
        "POST", "databases", json={"id": "db", "server_id": "srv", "name": "d"}
    )
    assert database.status == 201, database.text


def fields_of(response: object) -> set[str]:
    return {detail["field"] for detail in response.json()["error"]["details"]}  # type: ignore[attr-defined]


async def test_a_calendar_range_beyond_the_limit_is_refused_at_once(api: Api) -> None:
    await hourly_database(api)
    # 30 years of hourly slots, all before the database existed: each was walked through
    # (the 500-cell cap counts only the cells shown) for a quarter of a million slots.
    started = time.monotonic()
    response = await api.call(
        "GET", "calendar", "reader",
        params={"database_id": "db", "from": "2000-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert response.status == 422, response.text
    assert "400 days" in response.json()["error"]["message"]
    assert elapsed < 5, elapsed
    # Only 'from' far back: the default 'to' (tomorrow) makes the range just as long.
    response = await api.call("GET", "calendar", "reader", params={"from": "2001-01-01"})
    assert response.status == 422, response.text
    # The widest range the console offers (90 days) is served.
    response = await api.call(
        "GET", "calendar", "reader",
        params={"database_id": "db", "from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
    )  # fmt: skip
    assert response.status == 200, response.text


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:59:59Z"},
        {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"},
        {"from": "0001-01-01T00:00:00+05:00", "to": "0001-01-02T00:00:00Z"},
    ],
)
async def test_calendar_dates_at_the_ends_of_time_are_422(api: Api, params: dict[str, str]) -> None:
    await hourly_database(api)
    response = await api.call("GET", "calendar", "reader", params=params)
    assert response.status == 422, response.text


@pytest.mark.parametrize(
    "after", ["9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00"]
)
async def test_next_slots_after_the_ends_of_time_are_422(api: Api, after: str) -> None:
    await hourly_database(api)
    response = await api.call(
        "GET", "policies/every-hour/next-slots", "reader", params={"after": after, "count": "100"}
    )
    assert response.status == 422, response.text
    assert fields_of(response) == {"query.after"}


async def test_a_backup_list_filter_at_year_one_is_422_not_500(api: Api) -> None:
    """Every time in a query string converts to UTC; one that cannot (year 1 east of UTC)
    overflowed inside the validator."""
    response = await api.call(
        "GET", "backups", "reader", params={"from": "0001-01-01T00:00:00+05:00"}
    )
    assert response.status == 422, response.text


async def test_slot_counts_stay_capped(api: Api) -> None:
    await hourly_database(api)
    many = await api.call("GET", "policies/every-hour/next-slots", params={"count": "101"})
    assert many.status == 422
    draft = {"hourly": {"keep_count": 1}, "count": 51}
    preview = await api.call("POST", "policy-preview", "reader", json=draft)
    assert preview.status == 422
