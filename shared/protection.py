"""Where a backup blob is stored and how it is protected, from its policy and its tiers.

Immutability: a backup of an immutable tier (default monthly and yearly) is protected until
the date its tier would keep it to. A tier keeps the newest `keep_count` of its backups, and
a new one is due every interval, so a backup taken at T drops out when the keep_count-th
newer one is due: T + keep_count x interval (hours, days, 7 days; calendar months and
years for monthly and yearly). A backup of several such tiers takes the latest date. Missed
slots keep a backup longer than that; the protection then lapses while retention still
keeps it, which never conflicts (retention, not immutability, decides deletion).

Access tier: the hottest tier among the policy's access tiers of the backup tiers keeping
it (hot when a tier names none): a daily that is also this month's monthly stays hot while
it is a daily, and retention moves it to the monthly's tier once only the monthly keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta

from shared.models import ACCESS_TIER_ORDER, AccessTier, HourlyRule, Policy, Tier
from shared.storage.blobs import BlobPlacement


def kept_until(policy: Policy, tier: Tier, taken_at: datetime) -> datetime | None:
    """When `tier` stops keeping a backup taken at `taken_at` (None: tier not enabled)."""
    rule = policy.rules().get(tier)
    if rule is None:
        return None
    count = rule.keep_count
    if tier is Tier.HOURLY:
        assert isinstance(rule, HourlyRule)
        return taken_at + timedelta(hours=rule.every_hours * count)
    if tier is Tier.DAILY:
        return taken_at + timedelta(days=count)
    if tier is Tier.WEEKLY:
        return taken_at + timedelta(weeks=count)
    if tier is Tier.MONTHLY:
        return taken_at + relativedelta(months=count)
    return taken_at + relativedelta(years=count)


def immutable_until(policy: Policy, tiers: Iterable[Tier], taken_at: datetime) -> datetime | None:
    """The latest date an immutable tier of the backup keeps it to; None if none applies."""
    dates = [
        until
        for tier in set(tiers) & set(policy.immutable_tiers)
        if (until := kept_until(policy, tier, taken_at)) is not None
    ]
    return max(dates) if dates else None


def access_tier_for(policy: Policy | None, tiers: Iterable[Tier]) -> AccessTier:
    """The hottest access tier among those of `tiers` (hot without tiers or a policy)."""
    present = list(tiers)
    if policy is None or not present:
        return AccessTier.HOT
    wanted = {policy.access_tiers.get(tier, AccessTier.HOT) for tier in present}
    return min(wanted, key=ACCESS_TIER_ORDER.index)


def placement_for(
    policy: Policy | None,
    tiers: list[Tier],
    taken_at: datetime,
    *,
    immutability: bool,
    locked: bool,
) -> BlobPlacement:
    """The access tier and immutability a new backup blob is committed with."""
    until = immutable_until(policy, tiers, taken_at) if policy and immutability else None
    return BlobPlacement(
        access_tier=access_tier_for(policy, tiers).value,
        immutable_until=until,
        immutability_locked=locked,
    )
