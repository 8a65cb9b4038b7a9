"""Pages of instance and entity lists, as Azure Storage answers them.

The extension reads one table segment per request (`AzureTableTrackingStore.QueryStateAsync`:
`Take(top)`, `top` 100 by default) and answers at most `top` rows, sometimes fewer, even none,
with an `x-ms-continuation-token` while more may follow ("Requests may return fewer records
than the specified page size, even if there are more records. Always check the continuation
token.": `OrchestrationStatusQueryCondition.PageSize`). The Python client's `get_status_all` and
`get_status_by` read the first page only.

The emulator models a segment as a scan of `top` rows in key order (the table's partition key:
the instance id), of which the rows that match the other filters make the page. So a caller
that stops at a short page, or ignores the token, misses rows here as it would on Azure.
"""

from __future__ import annotations

import base64
import binascii
import json

from emulator.contracts import InvalidRequest

CONTINUATION_HEADER = "x-ms-continuation-token"
DEFAULT_PAGE_SIZE = 100
# Table Storage answers at most 1,000 entities per request: a larger `top` gets smaller pages
MAX_PAGE_SIZE = 1000


def page_size(top: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if top is None else top
    if size <= 0:
        raise InvalidRequest(f"'top' must be a positive number of rows, not {size}.")
    return min(size, MAX_PAGE_SIZE)


def continuation_after(last_key: str) -> str:
    """The token of the page that follows the row keyed `last_key`."""
    text = json.dumps({"after": last_key})
    return base64.urlsafe_b64encode(text.encode()).decode()


def key_after(token: str | None) -> str | None:
    """The key a continuation token resumes after (None: from the start)."""
    if not token:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidRequest(f"The continuation token {token!r} is not valid.") from exc
    if not isinstance(after, str):
        raise InvalidRequest(f"The continuation token {token!r} is not valid.")
    return after
