"""The restore drops the header lines its command names before the tool reads them."""

from __future__ import annotations

import io

from shared.engines.header_filter import HeaderLineFilter
from shared.pipeline.restore import _HeaderDropper

LINE = b"SET transaction_timeout = 0;"


def test_named_header_lines_never_reach_the_tool() -> None:
    dump = b"SET a = 1;\n" + LINE + b"\nSET b = 2;\n" + b"x" * 200_000 + b"\n" + LINE + b"\n"
    sink = io.BytesIO()
    writer = _HeaderDropper(HeaderLineFilter((LINE,)), sink)  # type: ignore[arg-type]
    for start in range(0, len(dump), 7_001):  # chunks that split lines anywhere
        writer.write(dump[start : start + 7_001])
    writer.flush()
    restored = sink.getvalue()
    assert restored.startswith(b"SET a = 1;\nSET b = 2;\n")
    # Only the header is filtered: the same text deep in the data is data.
    assert restored.endswith(b"\n" + LINE + b"\n")
    assert len(restored) == len(dump) - len(LINE) - 1


def test_without_named_lines_everything_passes() -> None:
    sink = io.BytesIO()
    writer = _HeaderDropper(HeaderLineFilter(()), sink)  # type: ignore[arg-type]
    writer.write(LINE + b"\n")
    writer.flush()
    assert sink.getvalue() == LINE + b"\n"
