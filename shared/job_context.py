"""The job a log line is about: its orchestration instance, backup record, database and
server, carried on every line logged while an activity works for it.

Activities set the job with `job_context` (or `record_context`); a log record factory,
installed when this module is imported, copies the fields onto every `logging.LogRecord`
created meanwhile, whichever logger writes it. The OpenTelemetry log handler
(shared/telemetry.py) exports a record's extra attributes, so in Application Insights they
are the line's customDimensions: `instance_id`, `record_id`, `database`, `server`.

Context variables do not follow a line into a thread of its own: a thread that logs about
the job runs its target through `in_this_context`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from shared.models import BackupRecord

FIELDS = ("instance_id", "record_id", "database", "server")

_current: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "dilux_job", default=None
)
T = TypeVar("T")


def current() -> dict[str, str]:
    """The fields of the job being worked on (empty outside of one)."""
    return dict(_current.get() or {})


@contextmanager
def job_context(
    *,
    instance_id: str | None = None,
    record_id: str | None = None,
    database: str | None = None,
    server: str | None = None,
) -> Iterator[None]:
    """Log lines in the block carry these fields (added to those already set)."""
    given = {"instance_id": instance_id, "record_id": record_id, "database": database}
    given["server"] = server
    fields = {**current(), **{key: value for key, value in given.items() if value}}
    token = _current.set(fields)
    try:
        yield
    finally:
        _current.reset(token)


def add_fields(**fields: str | None) -> None:
    """Adds fields learnt within a `job_context` block (they last until its end)."""
    assert _current.get() is not None, "only within job_context"
    _current.set({**current(), **{key: value for key, value in fields.items() if value}})


def record_context(record: BackupRecord) -> Any:
    """The fields of a backup record's job."""
    return job_context(
        instance_id=record.instance_id,
        record_id=record.id,
        database=record.database_id,
        server=record.server_id,
    )


def in_this_context(target: Callable[..., T]) -> Callable[..., T]:
    """`target`, run in a copy of the caller's context (for a thread's target)."""
    context = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return context.run(target, *args, **kwargs)

    return run


def _install() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_job_fields", False):  # a reload of this module
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for key, value in (_current.get() or {}).items():
            record.__dict__.setdefault(key, value)
        return record

    factory.adds_job_fields = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install()
