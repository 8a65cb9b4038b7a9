"""Restore drills, the pure part: the scratch database's reserved name, which databases a
drill takes, and what its measurements come to. No I/O: orchestrators call these too.

Scratch databases are named `dilux_drill_<database id>_<8 hex of the drill id>`: the prefix
is reserved (the API refuses it as a restore target, discovery hides it), and the drill id
comes from the drill's instance id, so a re-run of an activity addresses the same scratch
database. The whole name stays under 64 characters (PostgreSQL cuts longer identifiers
short, MySQL refuses them).

Rotation: with a policy's `sample_size` set, each drill takes that many databases, those
drilled least recently first (never drilled before all others), ties broken by id. Every
drill record counts, skipped ones too, so with M databases and a sample of N each database
is drilled at least once every ceil(M / N) drills, and the choice depends only on the stored
drill records: the same records always give the same sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

SCRATCH_PREFIX = "dilux_drill_"
_DATABASE_PART = 30
_NEVER = datetime.min.replace(tzinfo=UTC)


def scratch_name(database_id: str, drill_id: str) -> str:
    """The scratch database of one drill of one database."""
    database_part = database_id.replace("-", "_")[:_DATABASE_PART]
    drill_part = drill_id.replace("-", "")[:8]
    return f"{SCRATCH_PREFIX}{database_part}_{drill_part}"


def is_scratch_name(name: str) -> bool:
    """Whether a database name is in the drills' reserved namespace (any case: MySQL and SQL
    Server may compare names case-insensitively)."""
    return name.lower().startswith(SCRATCH_PREFIX)


def select_for_drill(
    database_ids: Iterable[str],
    last_drilled: Mapping[str, datetime | None],
    sample_size: int | None,
) -> list[str]:
    """The databases one drill takes, by id: all of them, or the `sample_size` drilled least
    recently (see the module docstring)."""
    candidates = sorted(set(database_ids))
    if sample_size is None or sample_size >= len(candidates):
        return candidates
    oldest_first = sorted(candidates, key=lambda db: (last_drilled.get(db) or _NEVER, db))
    return sorted(oldest_first[:sample_size])


def bytes_per_second(raw_bytes: int | None, seconds: float | None) -> float | None:
    """Restore throughput; None when either is unknown or the time is zero."""
    if raw_bytes is None or not seconds or seconds <= 0:
        return None
    return raw_bytes / seconds
