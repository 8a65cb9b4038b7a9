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


# Built once: a strategy made inside a composite is analysed again on every draw.
triggers = st.sampled_from([Trigger.SCHEDULE] * 5 + [Trigger.MANUAL])
tier_sets = st.sets(st.sampled_from(list(Tier)))
ages = st.integers(0, 24 * 120).map(lambda hours: timedelta(hours=hours))
database_ids = st.sampled_from(["db-one", "db-one", "db-two"])
rule_shapes = st.sampled_from(["absent", "enabled", "enabled", "disabled"])
keep_counts = st.integers(1, 6)


@st.composite
def histories(draw: st.DrawFn, max_size: int = 40) -> list[BackupRecord]:
    size = draw(st.integers(0, max_size))
    records = []
    for index in range(size):
        trigger = draw(triggers)
        tiers = [] if trigger == Trigger.MANUAL else draw(tier_sets)
        item = record(
            f"r{index:04d}",
            NOW - draw(ages),
            tiers,
            status=draw(statuses),
            trigger=trigger,
            database_id=draw(database_ids),
        )
        if item.status == BackupStatus.EXPIRED and draw(st.booleans()):
            item = item.model_copy(update={"blob_name": None})
        records.append(item)
    return records


def _rule(draw: st.DrawFn, factory: type) -> object | None:
    shape = draw(rule_shapes)
    if shape == "absent":
        return None
    return factory(keep_count=draw(keep_counts), enabled=shape == "enabled")


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
