r"""Row counts read from the dump stream itself: the manifest then describes exactly what the
dump holds, and a backup reads the database once.

One counter per dump format behind one interface (`RowCounter`), fed the raw dump before
compression in chunks that may be cut anywhere. Python runs per chunk, per table and per
statement; the bytes themselves are scanned by `bytes.find`/`count` and compiled regular
expressions over whole chunks, never by a Python loop per row or byte.

PostgreSQL (pg_dump, plain format). A table's rows are one COPY block, after its TOC
comment:

    -- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: o
    --

    COPY public.t (id, body) FROM stdin;
    1	a\nb
    \.

COPY's text format escapes backslash, newline and carriage return, so each row is one line
and no row is the line `\.`: rows = newlines up to that line. Only a COPY line right after a
TABLE DATA comment opens a block, so the same text inside a function body does not.

MySQL/MariaDB (mysqldump, mariadb-dump). A table's rows are INSERTs (extended, the default,
or one per row) between `LOCK TABLES `t` WRITE;` and `UNLOCK TABLES;` (--add-locks, which
the engine passes; LOCK TABLES cannot appear in a routine or trigger body, whose INSERTs are
thus never counted). Rows = value tuples. Values are numbers, NULL, 0x… (--hex-blob) and '…'
strings whose quotes, backslashes, newlines and NULs the tool escapes with a backslash, so
a raw newline, and `;\n`, only ever stand between tuples and statements, and a "(" outside
a string only ever opens a tuple. MariaDB writes one tuple per line: where every "(" of a
stretch follows a newline (or "VALUES "), the "\n(" count is the answer, nothing parsed.
Otherwise (MySQL's one-line statements, or a "(" inside a string) one regular expression
cuts the strings out of the stretch and the "(" left are counted; the string state (inside
or not, after a backslash or not) is carried from one chunk to the next.
"""

from __future__ import annotations

import re
import time
from typing import Protocol

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
    if engine is Engine.POSTGRESQL:
        return PostgresRowCounter()
    if engine in (Engine.MYSQL, Engine.MARIADB):
        return MySqlRowCounter()
    raise ValueError(f"no dump stream to count rows in for {engine}")


class _ChunkScanner:
    """Carries what a chunk left unfinished (a header cut in two, the last bytes of a block)
    into the next one, and times the scanning on the calling thread."""

    def __init__(self) -> None:
        # The dump's first line is never a header: a newline in front lets every header
        # be found as "\n" + its first words.
        self._pending = b"\n"
        self._rows: dict[TableKey, int] = {}
        self.cpu_seconds = 0.0

    def feed(self, data: bytes) -> None:
        started = time.thread_time()
        buffer = self._pending + data if self._pending else data
        self._pending = self._scan(buffer)
        self.cpu_seconds += time.thread_time() - started

    def tables(self) -> dict[TableKey, int]:
        return dict(self._rows)

    def _scan(self, buffer: bytes) -> bytes:
        """Counts what `buffer` holds; returns the bytes to put in front of the next chunk."""
        raise NotImplementedError

    def _open(self, key: TableKey) -> TableKey:
        self._rows.setdefault(key, 0)
        return key


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
    return buffer.find(needle, hit - rare) if hit >= 0 else -1


def _unquote(name: bytes, quote: bytes) -> bytes:
    """A name as the dump spells it, without its quotes (the inner ones are doubled)."""
    if name.startswith(quote):
        return name[1:-1].replace(quote + quote, quote)
    return name


# --- PostgreSQL ------------------------------------------------------------------------

_PG_TOC = b"\n-- Data for Name: "
_PG_TOC_LINE = re.compile(rb"-- Data for Name: [^\n]*; Type: TABLE DATA; Schema: [^\n]*\n")
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


class PostgresRowCounter(_ChunkScanner):
    """Rows of pg_dump's plain format: the lines of each COPY block."""

    def __init__(self) -> None:
        super().__init__()
        self._table: TableKey | None = None
        self._counted_from = 0  # in a block: where the newlines not yet counted start

    def _scan(self, buffer: bytes) -> bytes:
        position = 0
        while True:
            if self._table is None:
                found = self._header(buffer, position)
                if isinstance(found, bytes):
                    return found
                # The block starts after the header's newline, which stands in front of
                # `\.` when the table is empty: search from it, count after it.
                position, self._counted_from = found - 1, found
            end = find_by_rare_byte(buffer, _PG_END, position, rare=1)  # a backslash
            if end < 0:
                self._rows[self._table] += buffer.count(b"\n", self._counted_from)
                tail = buffer[-3:]  # the start of "\n\\.\n" may end this chunk
                self._counted_from = len(tail)
                return tail
            self._rows[self._table] += buffer.count(b"\n", self._counted_from, end + 1)
            self._table = None
            position = end + 3  # the "\n" that ends `\.` may precede the next TOC comment

    def _header(self, buffer: bytes, position: int) -> int | bytes:
        """Where the next COPY block's rows start (the table is then open), or the bytes to
        carry into the next chunk when no complete header is in `buffer`."""
        start = buffer.find(_PG_TOC, position)
        while start >= 0:
            found = self._header_at(buffer, start + 1)
            if found is None:
                return buffer[start:]  # cut by the chunk's end: decide with more bytes
            if found > 0:
                return found
            start = buffer.find(_PG_TOC, start + 1)
        return buffer[-(len(_PG_TOC) - 1) :]

    def _header_at(self, buffer: bytes, start: int) -> int | None:
        """At a TOC comment: the end of its COPY header, 0 if this is no data block's
        header, None if the buffer ends too early to tell."""
        toc = _PG_TOC_LINE.match(buffer, start)
        line_end = buffer.find(b"\n", start)
        if toc is None:
            return None if line_end < 0 else 0
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
_MY_LOCK = b"\nLOCK TABLES "
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

_OUTSIDE, _SECTION, _INSERT, _SKIP_LINE = range(4)


class MySqlRowCounter(_ChunkScanner):
    """Rows of mysqldump / mariadb-dump: the value tuples of each table's INSERTs."""

    def __init__(self) -> None:
        super().__init__()
        self._state = _OUTSIDE
        self._table: TableKey = (None, b"")
        # Inside an INSERT's values: in a string, right after a backslash in one, and
        # the last byte scanned ("\n" before a tuple, ";" before the statement's end).
        self._in_string = False
        self._escaped = False
        self._last = b""

    def _scan(self, buffer: bytes) -> bytes:
        position = 0
        while True:
            if self._state == _OUTSIDE:
                found = self._lock(buffer, position)
            elif self._state == _SECTION:
                found = self._section_line(buffer, position)
            elif self._state == _INSERT:
                found = self._values(buffer, position)
            else:
                found = self._skip_line(buffer, position)
            if isinstance(found, bytes):
                return found
            position = found

    def _lock(self, buffer: bytes, position: int) -> int | bytes:
        start = buffer.find(_MY_LOCK, position)
        while start >= 0:
            lock = _MY_LOCK_LINE.match(buffer, start + 1)
            if lock is not None:
                self._open((None, _unquote(lock[1], b"`")))
                self._state = _SECTION
                return lock.end()
            if len(buffer) - start < _MY_IDENT_MAX:
                return buffer[start:]
            start = buffer.find(_MY_LOCK, start + 1)
        return buffer[-(len(_MY_LOCK) - 1) :]

    def _section_line(self, buffer: bytes, position: int) -> int | bytes:
        """At the start of a line in a table's data section."""
        if buffer.startswith(_MY_INSERTS, position):
            head = _MY_INSERT_HEAD.match(buffer, position)
            if head is not None:
                self._table = self._open((None, _unquote(head[1], b"`")))
                self._state, self._in_string, self._escaped = _INSERT, False, False
                self._last = b"S"  # of VALUES
                if buffer.startswith(b" (", head.end()):
                    # "VALUES (": the first tuple opens here, as one after a newline does.
                    self._last = b"\n"
                    return head.end() + 1
                return head.end()
            if len(buffer) - position < _MY_INSERT_MAX:
                return buffer[position:]
            self._state = _SKIP_LINE
            return position
        if buffer.startswith(_MY_UNLOCK, position):
            self._state = _OUTSIDE
            return position + len(_MY_UNLOCK) - 1  # its newline precedes the next LOCK
        line_end = buffer.find(b"\n", position)
        if line_end >= 0:
            return line_end + 1
        if len(buffer) - position < _MY_LINE_MAX:
            return buffer[position:]
        self._state = _SKIP_LINE
        return position

    def _skip_line(self, buffer: bytes, position: int) -> int | bytes:
        line_end = buffer.find(b"\n", position)
        if line_end < 0:
            return b""
        self._state = _SECTION
        return line_end + 1

    def _values(self, buffer: bytes, position: int) -> int | bytes:
        """In an INSERT's values: counts their tuples up to the statement's `;\n`."""
        if self._last == b";" and buffer.startswith(b"\n", position):
            self._state = _SECTION  # the statement ended with the previous chunk
            return position + 1
        end = find_by_rare_byte(buffer, b";\n", position)
        stop = end if end >= 0 else len(buffer)
        if stop > position:
            self._rows[self._table] += self._tuples(buffer, position, stop)
            self._last = buffer[stop - 1 : stop]
        if end < 0:
            return b""
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
