"""Hypothesis strategies: a database's backup history and a policy to judge it by."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from shared.models import (
    BackupRecord,
    BackupStatus,
    DailyRule,
    HourlyRule,
    MonthlyRule,
    Policy,
    Tier,
    Trigger,
    WeeklyRule,
    YearlyRule,
)
from tests.retention.helpers import NOW, record

statuses = st.sampled_from(
    [BackupStatus.SUCCEEDED] * 6
    + [BackupStatus.FAILED, BackupStatus.RUNNING, BackupStatus.QUEUED, BackupStatus.EXPIRED]
)


@st.composite
def histories(draw: st.DrawFn, max_size: int = 40) -> list[BackupRecord]:
    size = draw(st.integers(0, max_size))
    records = []
    for index in range(size):
        trigger = draw(st.sampled_from([Trigger.SCHEDULE] * 5 + [Trigger.MANUAL]))
        tiers = [] if trigger == Trigger.MANUAL else draw(st.sets(st.sampled_from(list(Tier))))
        age = timedelta(hours=draw(st.integers(0, 24 * 120)))
        item = record(
            f"r{index:04d}",
            NOW - age,
            tiers,
            status=draw(statuses),
            trigger=trigger,
            database_id=draw(st.sampled_from(["db-one", "db-one", "db-two"])),
        )
        if item.status == BackupStatus.EXPIRED and draw(st.booleans()):
            item = item.model_copy(update={"blob_name": None})
        records.append(item)
    return records


def _rule(draw: st.DrawFn, factory: type) -> object | None:
    shape = draw(st.sampled_from(["absent", "enabled", "enabled", "disabled"]))
    if shape == "absent":
        return None
    return factory(keep_count=draw(st.integers(1, 6)), enabled=shape == "enabled")


@st.composite
def retention_policies(draw: st.DrawFn) -> Policy:
    return Policy(
        id="judged",
        name="judged",
        hourly=_rule(draw, HourlyRule),
        daily=_rule(draw, DailyRule),
        weekly=_rule(draw, WeeklyRule),
        monthly=_rule(draw, MonthlyRule),
        yearly=_rule(draw, YearlyRule),
    )
