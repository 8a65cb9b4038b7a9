"""Names that mark a value as secret: the one list the audit log's scrubbing and the table
codec's refusal both go by."""

from __future__ import annotations

import re

SECRET_FIELD = re.compile(
    r"pass(word)?|pwd|secret|token|credential|connection_?string|sas|signature|api_?key|"
    r"account_?key|private|^url$|download_url",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    return SECRET_FIELD.search(name) is not None
