"""Which failures are worth another attempt (shared/failures.py)."""

from __future__ import annotations

import pytest

from shared.failures import Retry, classify_failure

PERMANENT = [
    ("dump", "pg_dump: error: query failed: ERROR:  permission denied for table items"),
    ("dump", 'pg_dump: error: query failed: ERROR:  relation "public.gone" does not exist'),
    ("dump", 'FATAL:  database "shop" does not exist'),
    ("dump", 'FATAL:  role "backup" does not exist'),
    ("dump", 'FATAL:  password authentication failed for user "backup"'),
    ("dump", "pg_dump: error: aborting because of server version mismatch"),
    ("dump", "mariadb-dump: Got error: 1044: \"Access denied for user 'u'@'%' to database 'd'\""),
    ("dump", "mysqldump: Couldn't execute 'SHOW CREATE TABLE `t`': SELECT command denied to user"),
    ("dump", "mariadb-dump: Got error: 1049: \"Unknown database 'd'\" when selecting the database"),
    ("dump", "mysqldump: Got error: 1146: Table 'd.t' doesn't exist when using LOCK TABLES"),
    ("dump", "Login failed for user 'sa'."),
    ("auth_failed", "cannot dump database 'd': anything"),
    ("database_missing", "cannot dump database 'd': anything"),
    ("cancelled", "backup failed, nothing was committed: stopped: it was cancelled"),
    ("tool", "cannot start pg_dump: No such file or directory"),
    (None, 'connection test failed (unknown): FATAL: permission denied for database "d"'),
]
TRANSIENT = [
    ("dump", "pg_dump: error: connection to server at 127.0.0.1 failed: Connection refused"),
    ("dump", "pg_dump: error: server closed the connection unexpectedly"),
    ("dump", "FATAL:  the database system is starting up"),
    ("dump", "FATAL:  sorry, too many clients already"),
    ("dump", "mariadb-dump: Got error: 2013: Lost connection to server during query"),
    ("dump", "pg_dump exited with code 1"),  # nothing recognised: retried
    ("storage", "storage failed to stage a block of 'x': Service Unavailable"),
    ("storage", "container 'backups' does not exist"),  # the next attempt creates it
    ("timeout", "stopped: it exceeded its time limit"),
    ("unreachable", "could not translate host name"),
    ("killed", "pg_dump was killed by signal 9"),
    ("pipeline", "ZstdError: something"),
    # a passing problem wins over words that would otherwise be permanent
    ("dump", "permission denied to read the socket: connection reset by peer"),
]


@pytest.mark.parametrize(("reason", "message"), PERMANENT)
def test_permission_and_schema_errors_are_permanent(reason: str | None, message: str) -> None:
    assert classify_failure(reason, message) is Retry.PERMANENT


@pytest.mark.parametrize(("reason", "message"), TRANSIENT)
def test_passing_problems_and_unknown_ones_are_retried(reason: str | None, message: str) -> None:
    assert classify_failure(reason, message) is Retry.TRANSIENT


def test_no_message_is_retried() -> None:
    assert classify_failure(None, None) is Retry.TRANSIENT
