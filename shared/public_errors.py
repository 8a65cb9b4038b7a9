"""What a caller below the admin role sees of a failure: a fixed sentence for its class.

A failure's own text holds the server's words (`'user'@'egress-ip'`, banners, paths, a
tool's stderr). It is kept for admins; readers and operators see only which kind of
failure it was, from a fixed list: nothing of the raw text passes through.
"""

from __future__ import annotations

import re

from shared.engines.base import ConnectionErrorKind
from shared.engines.outcomes import MESSAGES, outcome_of

DETAILS = "; an administrator can read the details"
FALLBACK = "the backup failed"
_KINDS = {kind.value: kind for kind in ConnectionErrorKind}
_CONNECTION = re.compile(r"connection test failed \((?P<kind>[a-z_]+)\)")
_CLASSES = [
    (re.compile(r"cannot start \S+:"), "the dump tool could not be started"),
    (re.compile(r"cannot dump database "), "the database could not be read for the dump"),
    (re.compile(r"stopped: it exceeded its time limit"), "the dump exceeded its time limit"),
    (re.compile(r"stopped: it was cancelled"), "the backup was cancelled"),
    (re.compile(r"was killed by signal \d+"), "the dump tool was killed"),
    (re.compile(r"exited with code (?P<code>\d+)"), "the dump tool failed (exit code {code})"),
    (re.compile(r"nothing was committed"), "the backup could not be stored"),
]


def public_error(raw: str | None) -> str | None:
    """The fixed sentence for the class of `raw` (None stays None)."""
    if raw is None:
        return None
    if found := _CONNECTION.search(raw):
        kind = _KINDS.get(found["kind"], ConnectionErrorKind.UNKNOWN)
        return f"connection test failed: {MESSAGES[outcome_of(kind)]}{DETAILS}"
    for pattern, sentence in _CLASSES:
        if found := pattern.search(raw):
            return sentence.format(**found.groupdict()) + DETAILS
    return FALLBACK + DETAILS


# A drill's own words (skipped, interrupted, differences found) pass; a failed restore's text
# is the tool's and the server's, so only its class does.
_DRILL_OWN = re.compile(r"^(interrupted: |its scratch database |\d+ tables differ )")
# What reading a backup back (verify, restore, drill) fails on.
_RESTORE_CLASSES = [
    (
        re.compile(r"checksum mismatch|the blob is corrupted|does not decrypt"),
        "the backup is corrupted: it does not match its checksum or does not decrypt",
    ),
    (re.compile(r"is encrypted and"), "the key that decrypts the backup is not available"),
    (re.compile(r"cannot start \S+:"), "the restore tool could not be started"),
    (re.compile(r"exceeded its time limit"), "the restore exceeded its time limit"),
    (re.compile(r"exited with code (?P<code>\d+)"), "the restore tool failed (exit code {code})"),
]


def public_drill_error(error: str | None, *, skipped: bool) -> str | None:
    """What a caller below the admin role sees of why a drill failed or was skipped."""
    if error is None or skipped or _DRILL_OWN.search(error):
        return error  # our own sentences (no backup, archived, another engine, interrupted)
    return _restore_class(error, "the restore drill failed")


def public_read_error(error: str | None, job: str) -> str | None:
    """What a caller below the admin role sees of why a verify or restore job failed."""
    return None if error is None else _restore_class(error, f"the {job} failed")


def _restore_class(error: str, fallback: str) -> str:
    for pattern, sentence in _RESTORE_CLASSES:
        if found := pattern.search(error):
            return sentence.format(**found.groupdict()) + DETAILS
    return fallback + DETAILS
