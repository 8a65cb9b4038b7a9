r"""Row counts read from the dump stream itself: the manifest then describes exactly what the
dump holds, and a backup reads the database once.

One counter per dump format behind one interface (`RowCounter`), fed the raw dump before
compression in chunks that may be cut anywhere. Python runs per chunk, per table, per
statement and per quoted or commented stretch of the schema; the bytes themselves are
scanned by `bytes.find`/`count`, numpy (the newlines of data, `count_newlines`, and the
end of a block among rows full of its bytes, `find_bytes`) and compiled regular
expressions over whole chunks, never by a Python loop per row or byte.

Outside the data, each counter follows the SQL text the way the tool that restores it
(psql, mysql) does: strings, quoted names, dollar quotes and comments are skipped whole, so
what a function, trigger, procedure, view or comment holds (a line that reads like a COPY
header or a LOCK TABLES, say) is never taken for data. Only at the top level of that text
does a data block open. The schema is small next to the data, whose blocks are counted by
the fast paths below.

PostgreSQL (pg_dump, plain format). A table's rows are one COPY block, after its TOC
comment:

    -- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: o
    --

    COPY public.t (id, body) FROM stdin;
    1	a\nb
    \.

COPY's text format escapes backslash, newline and carriage return, so each row is one line
and no row is the line `\.`: rows = newlines up to that line. A block opens where such a
TOC comment is a comment of the top level (psql's view: not inside a '…', E'…', "…",
$tag$…$tag$ or /* … */, which nest).

MySQL/MariaDB (mysqldump, mariadb-dump). A table's rows are INSERTs (extended, the default,
or one per row) between `LOCK TABLES `t` WRITE;` and `UNLOCK TABLES;` (--add-locks, which
the engine passes), a LOCK TABLES at the start of a line of the top level (the mysql
client's view: not inside '…' or "…" with their backslash escapes, unless the dump set
NO_BACKSLASH_ESCAPES for a routine, `…`, # or -- comments or /* … */; the /*!50003 … */
around triggers and views is read through, as the server runs it). Rows = value tuples.
Values are numbers, NULL, 0x… (--hex-blob) and '…' strings whose quotes, backslashes,
newlines and NULs the tool escapes with a backslash, so a raw newline, and `;\n`, only ever
stand between tuples and statements, and a "(" outside a string only ever opens a tuple.
MariaDB writes "VALUES" then one tuple per line: in such a statement the count of newlines
before its `;\n` is the answer, whatever the strings hold, nothing parsed. Otherwise
(MySQL's one-line statements) one regular expression cuts the strings out of the stretch
and the "(" left are counted; the string state (inside or not, after a backslash or not)
is carried from one chunk to the next.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any, Protocol

from shared.models import Engine

# (schema, table) as the dump names them, unquoted but not decoded; schema None for MySQL.
TableKey = tuple[bytes | None, bytes]


class RowCounter(Protocol):
    cpu_seconds: float

    def feed(self, data: bytes) -> None:
        """The next bytes of the dump, in order."""
        ...

    def tables(self) -> dict[TableKey, int]:
        """Every table the dump holds a data block for, with its rows (0 for an empty one)."""
        ...


def row_counter_for(engine: Engine) -> RowCounter:
    """The counter for the dump format of `engine`'s tool."""
    # numpy (count_newlines, find_bytes) is imported here, before the dump streams, and
    # not with this module, which every start of the app imports: its import (~0.1 s,
    # holding the GIL) is paid once per process by the first backup, outside its
    # pipeline's threads.
    # Nothing here uses BLAS: without this, numpy's OpenBLAS starts a thread at import that
    # spins for about a second (0.045 s of CPU, measured), on the cores the dump needs.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy  # noqa: F401

    if engine is Engine.POSTGRESQL:
        return PostgresRowCounter()
    if engine in (Engine.MYSQL, Engine.MARIADB):
        return MySqlRowCounter()
    raise ValueError(f"no dump stream to count rows in for {engine}")


class _ChunkScanner:
    """Carries what a chunk left unfinished (a header or a quote's end cut in two, the last
    bytes of a block) into the next one, and times the scanning on the calling thread.

    `_scan` returns where the next scan resumes; the bytes from there on are put in front of
    the next chunk, with the one byte before them, so that a look-behind (a newline before
    a header, a name's letter before "$") always has its byte."""

    # Unfinished bytes carried at the top level of the text: the longest token the lexer
    # must see whole to know what it is ("\nLOCK TABLES ", "/*!50003 SET sql_mode   = ").
    TAIL = 64

    def __init__(self) -> None:
        # The dump's first line counts as following a newline.
        self._pending = b"\n"
        self._fresh = 1  # where the bytes not scanned before start in the buffer
        self._rows: dict[TableKey, int] = {}
        self.cpu_seconds = 0.0

    def feed(self, data: bytes) -> None:
        started = time.thread_time()
        buffer = self._pending + data
        self._fresh = len(self._pending)
        resume = self._scan(buffer, 1)
        self._pending = buffer[resume - 1 :]
        self.cpu_seconds += time.thread_time() - started

    def tables(self) -> dict[TableKey, int]:
        return dict(self._rows)

    def _scan(self, buffer: bytes, position: int) -> int:
        """Counts what buffer[position:] holds; returns where the next scan resumes."""
        raise NotImplementedError

    def _open(self, key: TableKey) -> TableKey:
        self._rows.setdefault(key, 0)
        return key


# Below this many bytes numpy's call costs more than its faster scan saves.
_NUMPY_FROM = 64 * 1024
_NEWLINE = ord("\n")


def count_newlines(buffer: bytes, start: int = 0, stop: int | None = None) -> int:
    """The newlines in buffer[start:stop], as bytes.count counts them. That scans a byte
    at a time holding the GIL (2.9-3.0 GB/s measured); numpy compares many bytes per
    instruction with the GIL released (10.2-10.7 GB/s), so the compressor's and the
    uploaders' threads are not kept waiting on the bulk of a dump's rows."""
    stop = len(buffer) if stop is None else min(stop, len(buffer))
    if stop - start < _NUMPY_FROM:
        return buffer.count(b"\n", start, stop)
    import numpy as np  # loaded by row_counter_for already: a lookup

    data = np.frombuffer(buffer, dtype=np.uint8, count=stop - start, offset=start)
    return int(np.count_nonzero(np.equal(data, _NEWLINE, out=_scratch_bools(np, len(data)))))


_scratch = threading.local()


def _scratch_bools(np: Any, size: int) -> Any:
    """A boolean array of `size` for numpy's comparisons, this thread's and reused: a fresh
    one per chunk cost a page fault per 4 KiB written, more than the comparison itself."""
    array = getattr(_scratch, "bools", None)
    if array is None or len(array) < size:
        array = _scratch.bools = np.empty(size, dtype=bool)
    return array[:size]


def find_by_rare_byte(buffer: bytes, needle: bytes, start: int, rare: int = 0) -> int:
    """buffer.find(needle, start), fast when needle[rare] is a rare byte in the data: a
    single-byte find (memchr) looks for that byte; after a few hits that are not the needle,
    the general search (several times slower per byte) takes over."""
    byte = needle[rare : rare + 1]
    hit = buffer.find(byte, start + rare)
    for _ in range(8):
        if hit < 0 or buffer.startswith(needle, hit - rare):
            return hit - rare if hit >= 0 else -1
        hit = buffer.find(byte, hit + 1)
    return find_bytes(buffer, needle, hit - rare) if hit >= 0 else -1


def find_bytes(buffer: bytes, needle: bytes, start: int) -> int:
    """buffer.find(needle, start) for a needle of two bytes or more. CPython's search ran
    at 1.1-1.9 GB/s on dump data whose rows are full of the needle's bytes (backslashes,
    semicolons), holding the GIL; numpy compares the needle's first two bytes as 16-bit
    words, at both alignments, at about 7 GB/s with the GIL released. It scans windows
    that double from 64 KiB, so a needle near `start` costs little more than its window."""
    if len(buffer) - start < _NUMPY_FROM:
        return buffer.find(needle, start)
    import numpy as np

    data = np.frombuffer(buffer, dtype=np.uint8)
    window = _NUMPY_FROM
    while start < len(buffer) - 1:
        stop = min(start + window, len(buffer) - 1)
        for position in _pair_starts(np, data, needle, start, stop):
            if buffer.startswith(needle, position):
                return position
        start, window = stop, window * 2
    return -1


def _pair_starts(np: Any, data: Any, needle: bytes, start: int, stop: int) -> list[int]:
    """Where in [start, stop) needle[0:2] starts (stop + 1 <= len(data)), in order; when
    the needle is longer, only where its third byte follows too."""
    pair = int.from_bytes(needle[:2], "little")
    found = []
    for shift in (0, 1):
        words = (stop - start - shift + 1) // 2  # the last starts before stop
        view = np.frombuffer(data, dtype="<u2", count=words, offset=start + shift)
        matches = np.equal(view, pair, out=_scratch_bools(np, words))
        found.append(np.flatnonzero(matches) * 2 + (start + shift))
    starts = np.sort(np.concatenate(found))
    if len(needle) > 2:
        starts = starts[starts + 2 < len(data)]
        starts = starts[data[starts + 2] == needle[2]]
    return starts.tolist()


def _unquote(name: bytes, quote: bytes) -> bytes:
    """A name as the dump spells it, without its quotes (the inner ones are doubled)."""
    if name.startswith(quote):
        return name[1:-1].replace(quote + quote, quote)
    return name


def _quoted_end(buffer: bytes, position: int, body: re.Pattern[bytes]) -> int:
    """From inside a quoted stretch whose `body` pattern stops at its closing quote: past
    that quote, or -1 - (where to resume) when the buffer ends first (a last quote may be
    the first of a doubled one, a last backslash escapes the next chunk's first byte)."""
    end = body.match(buffer, position).end()  # type: ignore[union-attr]
    if end + 1 < len(buffer):
        return end + 1  # the closing quote (a doubled one was taken by the body)
    return -1 - end


# --- PostgreSQL ------------------------------------------------------------------------

_PG_TOC_LINE = re.compile(rb"-- Data for Name: [^\n]*; Type: TABLE DATA; Schema: [^\n]*\n")
_PG_TOC_START = b"-- Data for Name: "
_PG_BEFORE_COPY = b"--\n\nCOPY "
_PG_IDENT = rb'(?:"(?:[^"]|"")+"|[^\s".(),;]+)'
_PG_COPY_LINE = re.compile(
    rb"COPY (?P<schema>" + _PG_IDENT + rb")\.(?P<table>" + _PG_IDENT + rb") "
    rb'(?:\((?:"(?:[^"]|"")*+"|[^"()]++)*+\))? FROM stdin;\n'
)
_PG_COPY_END = b" FROM stdin;\n"
_PG_END = b"\n\\.\n"
# The longest header: a 1,600-column list of quoted 63-byte names is about 210 KB.
_PG_MAX_HEADER = 256 * 1024
_PG_MAX_TOC_LINE = 16 * 1024  # names in TOC comments are at most 63 bytes each

# What starts something at the top level: comments, strings, quoted names, dollar quotes
# (a tag is a name; "$" inside or after a name belongs to it, and "$1" is a parameter),
# psql's backslash commands (\connect, \restrict) and the dump's own setting of
# standard_conforming_strings, which decides what a backslash in '…' is.
_PG_NAME_BYTE = rb"A-Za-z0-9_\x80-\xff"
_PG_TOKEN = re.compile(
    rb"--|/\*|['\"\\]"
    rb"|(?<!["
    + _PG_NAME_BYTE
    + rb"$])(?:[Ee]'|\$(?:[A-Za-z_\x80-\xff]["
    + _PG_NAME_BYTE
    + rb"]*)?\$)"
    rb"|(?<=\n)SET standard_conforming_strings = o(?:n|ff);"
)
_PG_DOLLAR_TAIL = re.compile(rb"\$[A-Za-z_\x80-\xff][" + _PG_NAME_BYTE + rb"]*\Z")
_PG_BODIES = {
    b"'": re.compile(rb"(?:[^']++|'')*+"),  # standard_conforming_strings on
    b"\\'": re.compile(rb"(?:[^'\\]++|\\.|'')*+", re.DOTALL),  # E'…', or off
    b'"': re.compile(rb'(?:[^"]++|"")*+'),
}
_PG_COMMENT_MARKS = re.compile(rb"/\*|\*/")

# Where the text is: at the top level, in a -- comment, a /* comment (how deep), a '…',
# E'…' or "…" (its body pattern), a dollar quote (its tag), or a COPY block.
_TOP, _LINE, _BLOCK, _QUOTED, _DOLLAR, _DATA = range(6)


class PostgresRowCounter(_ChunkScanner):
    """Rows of pg_dump's plain format: the lines of each COPY block."""

    def __init__(self) -> None:
        super().__init__()
        self._state = _TOP
        self._depth = 0  # of nested /* comments
        self._body = _PG_BODIES[b"'"]  # of the quoted stretch we are in
        self._tag = b""  # of the dollar quote we are in
        self._escapes = False  # standard_conforming_strings off: '…' takes backslashes
        self._table: TableKey = (None, b"")
        self._counted_from = 0  # in a block: where the newlines not yet counted start

    def _scan(self, buffer: bytes, position: int) -> int:
        self._counted_from = self._fresh
        while True:
            state = self._state
            if state == _TOP:
                found = self._top(buffer, position)
            elif state == _DATA:
                found = self._data(buffer, position)
            elif state == _LINE:
                found = buffer.find(b"\n", position)
                if found < 0:
                    return len(buffer)
                self._state = _TOP
            elif state == _QUOTED:
                found = _quoted_end(buffer, position, self._body)
                if found >= 0:
                    self._state = _TOP
            elif state == _DOLLAR:
                found = buffer.find(self._tag, position)
                if found < 0:
                    return max(position, len(buffer) - len(self._tag) + 1)
                self._state = _TOP
                found += len(self._tag)
            else:
                found = self._comment(buffer, position)
            if found < 0:
                return -1 - found
            position = found

    def _top(self, buffer: bytes, position: int) -> int:
        """At the top level: past the next thing that starts there (entering it), or
        -1 - (where to resume) at the buffer's end."""
        token = _PG_TOKEN.search(buffer, position)
        if token is None:
            resume = max(position, len(buffer) - self.TAIL)
            dollar = _PG_DOLLAR_TAIL.search(buffer, max(position, len(buffer) - 1024))
            return -1 - (min(resume, dollar.start()) if dollar else resume)
        start, end = token.span()
        first = buffer[start]
        if first == 0x2D:  # "-": a comment, or a TOC comment that opens a COPY block
            if buffer[start - 1] == 0x0A and _PG_TOC_START.startswith(
                buffer[start : start + len(_PG_TOC_START)]
            ):
                found = self._header_at(buffer, start)
                if found is None:
                    return -1 - start  # cut by the chunk's end: decide with more bytes
                if found > 0:
                    # The block starts after the header's newline, which stands in front
                    # of `\.` when the table is empty: search from it, count after it.
                    self._state, self._counted_from = _DATA, found
                    return found - 1
            self._state = _LINE
        elif first == 0x2F:  # "/*"
            self._state, self._depth = _BLOCK, 1
        elif first == 0x5C:  # a backslash: one of psql's commands, to the end of its line
            self._state = _LINE
        elif first == 0x24:  # "$tag$"
            self._state, self._tag = _DOLLAR, token[0]
        elif first == 0x53:  # "SET standard_conforming_strings = …;"
            self._escapes = token[0].endswith(b"off;")
        else:
            quote = b"'" if first == 0x27 else b'"' if first == 0x22 else b"\\'"
            if quote == b"'" and self._escapes:
                quote = b"\\'"
            self._state, self._body = _QUOTED, _PG_BODIES[quote]
        return end

    def _comment(self, buffer: bytes, position: int) -> int:
        """In a /* comment (they nest): past its end, or -1 - (where to resume)."""
        while self._depth:
            mark = _PG_COMMENT_MARKS.search(buffer, position)
            if mark is None:
                return -1 - max(position, len(buffer) - 1)
            self._depth += 1 if buffer[mark.start()] == 0x2F else -1
            position = mark.end()
        self._state = _TOP
        return position

    def _data(self, buffer: bytes, position: int) -> int:
        """In a COPY block: counts its lines up to `\\.`; past it, or -1 - (where to
        resume) when the block goes on in the next chunk."""
        end = find_by_rare_byte(buffer, _PG_END, position, rare=1)  # a backslash
        if end < 0:
            self._rows[self._table] += count_newlines(buffer, self._counted_from)
            # The start of "\n\\.\n" may end this chunk.
            return -1 - max(position, len(buffer) - 3)
        self._rows[self._table] += count_newlines(buffer, self._counted_from, end + 1)
        self._state = _TOP
        return end + 3  # the "\n" that ends `\.` precedes the next TOC comment

    def _header_at(self, buffer: bytes, start: int) -> int | None:
        """At a TOC comment: the end of its COPY header, 0 if this is no data block's
        header, None if the buffer ends too early to tell."""
        toc = _PG_TOC_LINE.match(buffer, start)
        if toc is None:
            cut = buffer.find(b"\n", start) < 0 and len(buffer) - start < _PG_MAX_TOC_LINE
            return None if cut else 0
        copy = toc.end()
        if len(buffer) - copy < len(_PG_BEFORE_COPY):
            return None
        if not buffer.startswith(_PG_BEFORE_COPY, copy):
            return 0
        copy += len(_PG_BEFORE_COPY) - len(b"COPY ")
        header = _PG_COPY_LINE.match(buffer, copy)
        if header is None:
            cut = buffer.find(_PG_COPY_END, copy) < 0 and len(buffer) - start < _PG_MAX_HEADER
            return None if cut else 0
        schema = _unquote(header["schema"], b'"')
        self._table = self._open((schema, _unquote(header["table"], b'"')))
        return header.end()


# --- MySQL / MariaDB -------------------------------------------------------------------

# Names in backticks, or bare (--skip-quote-names); INSERT IGNORE and REPLACE as well
# (--insert-ignore, --replace): an option file may ask for any of them.
_MY_NAME = rb"(`(?:[^`]|``)+`|[^\s`(]+)"
_MY_LOCK_LINE = re.compile(rb"LOCK TABLES " + _MY_NAME + rb" WRITE;\n")
_MY_IDENT_MAX = 1024  # 64 characters of up to 4 bytes, backticks doubled, and the words
_MY_INSERTS = (b"INSERT INTO ", b"INSERT IGNORE INTO ", b"REPLACE INTO ")
_MY_INSERT_HEAD = re.compile(
    rb"(?:INSERT(?: IGNORE)?|REPLACE) INTO "
    + _MY_NAME
    + rb"(?: \((?:`(?:[^`]|``)*+`|[^`()]++)*+\))? VALUES"
)
_MY_INSERT_MAX = 1024 * 1024  # a column list of 4,096 quoted names
_MY_UNLOCK = b"UNLOCK TABLES;\n"
# A name may hold a newline, and then a line that reads "UNLOCK TABLES;": the lines that
# name the table are read whole.
_MY_KEYS_LINE = re.compile(rb"/\*!40000 ALTER TABLE " + _MY_NAME + rb" (?:DIS|EN)ABLE KEYS \*/;\n")
_MY_LINE_MAX = 64 * 1024  # other lines of a data section: ALTER TABLE … KEYS and the like
# From inside a string: its rest, up to and with the closing quote. From outside: a string,
# closed or running to the end of the text.
_MY_STRING_REST = re.compile(rb"(?:[^'\\]++|\\.)*+'", re.DOTALL)
_MY_STRING = re.compile(rb"'(?:[^'\\]++|\\.)*+(?:'|\\?\Z)", re.DOTALL)
# Put after a stretch before its strings are cut out: if the stretch ends inside a string,
# the quote closes it and the NUL stays (NUL is escaped in dumped strings); if it ends
# after a backslash, the SOH is what it escapes; if it ends outside, the SOH stays and the
# quote opens a last string that swallows the NUL.
_MY_SENTINEL = b"\x01'\x00"

# What starts something at the top level of the text the mysql client reads: strings,
# quoted names, comments (# and "-- " to the end of the line; /* … */, except /*!…*/ and
# /*M!…*/, whose text is run: their "/*!" and "*/" are skipped, what is between is read),
# and at a line's start the client's DELIMITER command (the rest of its line), a LOCK
# TABLES that opens a data section, and the dump's own setting of the sql_mode a routine
# or trigger was made in (NO_BACKSLASH_ESCAPES decides what a backslash in '…' is).
_MY_TOKEN = re.compile(
    rb"(?<=\n)(?:/\*!\d{5} SET sql_mode\s*=\s*|LOCK TABLES |DELIMITER[ \t])"
    rb"|['\"`#]|--[\x00-\x20]|/\*(?:M?!|(?=[^M!])|M(?=[^!]))|\*/",
    re.DOTALL,
)
_MY_BODIES = {
    (b"'", False): re.compile(rb"(?:[^'\\]++|\\.|'')*+", re.DOTALL),
    (b'"', False): re.compile(rb'(?:[^"\\]++|\\.|"")*+', re.DOTALL),
    (b"'", True): re.compile(rb"(?:[^']++|'')*+"),
    (b'"', True): re.compile(rb'(?:[^"]++|"")*+'),
    (b"`", False): re.compile(rb"(?:[^`]++|``)*+"),
}
_MY_MODE_MAX = 64 * 1024

_SECTION, _INSERT, _SKIP_LINE = range(_DATA + 1, _DATA + 4)


class MySqlRowCounter(_ChunkScanner):
    """Rows of mysqldump / mariadb-dump: the value tuples of each table's INSERTs."""

    def __init__(self) -> None:
        super().__init__()
        self._state = _TOP
        self._body = _MY_BODIES[(b"`", False)]  # of the quoted stretch we are in
        self._no_backslash_escapes = False
        self._table: TableKey = (None, b"")
        # Inside an INSERT's values: in a string, right after a backslash in one, and
        # the last byte scanned ("\n" before a tuple, ";" before the statement's end).
        self._in_string = False
        self._escaped = False
        self._last = b""
        self._lines = False  # a tuple per line: MariaDB's layout

    def _scan(self, buffer: bytes, position: int) -> int:
        while True:
            state = self._state
            if state == _INSERT:
                found = self._values(buffer, position)
            elif state == _SECTION:
                found = self._section_line(buffer, position)
            elif state == _TOP:
                found = self._top(buffer, position)
            elif state == _QUOTED:
                found = _quoted_end(buffer, position, self._body)
                if found >= 0:
                    self._state = _TOP
            elif state == _BLOCK:
                found = buffer.find(b"*/", position)
                if found < 0:
                    return max(position, len(buffer) - 1)
                self._state = _TOP
                found += 2
            else:  # _LINE or _SKIP_LINE: to the end of the line
                found = buffer.find(b"\n", position)
                if found < 0:
                    return len(buffer)
                if state == _SKIP_LINE:
                    found += 1
                self._state = _TOP if state == _LINE else _SECTION
            if found < 0:
                return -1 - found
            position = found

    def _top(self, buffer: bytes, position: int) -> int:
        """At the top level: past the next thing that starts there (entering it), or
        -1 - (where to resume) at the buffer's end."""
        token = _MY_TOKEN.search(buffer, position)
        if token is None:
            return -1 - max(position, len(buffer) - self.TAIL)
        start, end = token.span()
        first = buffer[start]
        if first == 0x4C:  # "LOCK TABLES "
            lock = _MY_LOCK_LINE.match(buffer, start)
            if lock is not None:
                self._open((None, _unquote(lock[1], b"`")))
                self._state = _SECTION
                return lock.end()
            if len(buffer) - start < _MY_IDENT_MAX:  # a name may hold newlines
                return -1 - start
        elif first == 0x2F:
            if end - start > 4:  # "/*!50003 SET sql_mode = " (the others are short)
                return self._sql_mode(buffer, start, end)
            if buffer[end - 1] != 0x21:  # "/*" or "/*M", not "/*!" nor "/*M!": a comment
                self._state = _BLOCK  # (they do not nest in MySQL)
            elif buffer[start - 1] == 0x0A and len(buffer) - start < self.TAIL:
                return -1 - start  # it may be the start of "/*!50003 SET sql_mode = "
        elif first in (0x23, 0x44) or (first == 0x2D and buffer[end - 1] != 0x0A):
            self._state = _LINE  # "#", "-- ", DELIMITER
        elif first in (0x27, 0x22, 0x60):  # ' " `
            quote = token[0]
            escapes = self._no_backslash_escapes and quote != b"`"
            self._state, self._body = _QUOTED, _MY_BODIES[(quote, escapes)]
        return end

    def _sql_mode(self, buffer: bytes, start: int, end: int) -> int:
        """After "/*!50003 SET sql_mode = ": the mode the next routine or trigger was made
        in (a string), or the saved one put back (a variable)."""
        if end == len(buffer):
            return -1 - start
        if buffer[end] == 0x27:
            close = buffer.find(b"'", end + 1)
            if close < 0:
                return -1 - start if len(buffer) - start < _MY_MODE_MAX else end
            mode = buffer[end + 1 : close].upper()
            self._no_backslash_escapes = b"NO_BACKSLASH_ESCAPES" in mode
            return close + 1
        self._no_backslash_escapes = False
        return end

    def _section_line(self, buffer: bytes, position: int) -> int:
        """At the start of a line in a table's data section."""
        if buffer.startswith(_MY_INSERTS, position):
            head = _MY_INSERT_HEAD.match(buffer, position)
            if head is not None:
                if len(buffer) - head.end() < 2:
                    return -1 - position  # which layout: decide with more bytes
                self._table = self._open((None, _unquote(head[1], b"`")))
                self._state, self._in_string, self._escaped = _INSERT, False, False
                self._last = b"S"  # of VALUES
                # MariaDB's layout: "VALUES\n(…),\n(…);\n", always one tuple per line.
                self._lines = buffer[head.end()] == 0x0A
                if buffer.startswith(b" (", head.end()):
                    # "VALUES (": the first tuple opens here, as one after a newline does.
                    self._last = b"\n"
                    return head.end() + 1
                return head.end()
            if len(buffer) - position < _MY_INSERT_MAX:
                return -1 - position
            self._state = _SKIP_LINE
            return position
        if buffer.startswith(_MY_UNLOCK, position):
            self._state = _TOP
            return position + len(_MY_UNLOCK) - 1  # its newline precedes the next LOCK
        if buffer.startswith(b"/*!40000 ALTER TABLE ", position):
            keys = _MY_KEYS_LINE.match(buffer, position)
            if keys is not None:
                return keys.end()
            if len(buffer) - position < _MY_IDENT_MAX:
                return -1 - position
        line_end = buffer.find(b"\n", position)
        if line_end >= 0:
            return line_end + 1
        if len(buffer) - position < _MY_LINE_MAX:
            return -1 - position
        self._state = _SKIP_LINE
        return position

    def _values(self, buffer: bytes, position: int) -> int:
        """In an INSERT's values: counts their tuples up to the statement's `;\n`."""
        if self._last == b";" and buffer.startswith(b"\n", position):
            self._state = _SECTION  # the statement ended with the previous chunk
            return position + 1
        end = find_by_rare_byte(buffer, b";\n", position)
        stop = end if end >= 0 else len(buffer)
        if stop > position and self._lines:
            # A raw newline is never inside a value (the tool escapes it), and in this
            # layout every newline before the statement's ";\n" is followed by a tuple's
            # "(": each one opens a tuple, whatever the strings hold. (Counting the single
            # byte runs twice as fast as counting "\n(", and a chunk cut after a newline
            # cannot count it twice.)
            self._rows[self._table] += count_newlines(buffer, position, stop)
            self._last = buffer[stop - 1 : stop]
        elif stop > position:
            self._rows[self._table] += self._tuples(buffer, position, stop)
            self._last = buffer[stop - 1 : stop]
        if end < 0:
            return -1 - len(buffer)
        self._state = _SECTION
        return end + 2

    def _tuples(self, buffer: bytes, start: int, stop: int) -> int:
        """Tuples opening in buffer[start:stop]; updates the string state at `stop`."""
        position = start
        if self._in_string:
            position = self._string_rest(buffer, position, stop)
            if self._in_string:
                return 0
        after_newline = buffer[position - 1] == 10 if position > start else self._last == b"\n"
        opening = buffer.count(b"(", position, stop)
        after_newlines = buffer.count(b"\n(", position, stop)
        after_newlines += after_newline and buffer.startswith(b"(", position)
        if opening == after_newlines:
            # Every "(" follows a newline, and no string holds a newline: all open tuples.
            # Only the last line's strings decide the state at `stop`.
            last_line = buffer.rfind(b"\n", position, stop) + 1
            self._strings_cut(buffer, max(last_line, position), stop)
            return opening
        return self._strings_cut(buffer, position, stop).count(b"(")

    def _string_rest(self, buffer: bytes, position: int, stop: int) -> int:
        """From inside a string: past its closing quote, or `stop` if it goes on."""
        if self._escaped:
            if position == stop:
                return stop
            position, self._escaped = position + 1, False
        rest = _MY_STRING_REST.match(buffer, position, stop)
        if rest is not None:
            self._in_string = False
            return rest.end()
        tail = buffer[position:stop]
        self._escaped = (len(tail) - len(tail.rstrip(b"\\"))) % 2 == 1
        return stop

    def _strings_cut(self, buffer: bytes, start: int, stop: int) -> bytes:
        """buffer[start:stop] (which starts outside a string) without its strings; sets
        the string state at `stop`."""
        cut = _MY_STRING.sub(b"", buffer[start:stop] + _MY_SENTINEL)
        self._in_string = cut.endswith(b"\x00")
        if self._in_string:
            tail = buffer[start:stop]
            self._escaped = (len(tail) - len(tail.rstrip(b"\\"))) % 2 == 1
        return cut
