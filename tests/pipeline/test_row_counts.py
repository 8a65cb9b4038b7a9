r"""The row counters of shared/pipeline/row_counts.py against dumps generated here the way
pg_dump and mysqldump/mariadb-dump write them (escapes, quoting, layouts), with a known
number of rows per table, cut into chunks at random places (property-based, hypothesis),
and a hand-written dump cut at every single position; between the data, generated schema
text whose strings, quoted names, dollar quotes and comments hold fake data blocks.

The real tools' output is checked by the round-trip tests (test_roundtrip_*.py), whose
manifests must equal count(*) on the source."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.engines.base import Catalogue
from shared.models import Engine
from shared.pipeline.manifests import dump_manifest
from shared.pipeline.row_counts import (
    MySqlRowCounter,
    PostgresRowCounter,
    RowCounter,
    TableKey,
    count_newlines,
    find_by_rare_byte,
    find_bytes,
    row_counter_for,
)

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def counted(counter: RowCounter, dump: bytes, cuts: Iterable[int]) -> dict[TableKey, int]:
    """Feeds `dump` cut at the positions `cuts`."""
    start = 0
    for cut in sorted(set(cuts)):
        counter.feed(dump[start:cut])
        start = cut
    counter.feed(dump[start:])
    return counter.tables()


def cut_points(dump: bytes) -> st.SearchStrategy[list[int]]:
    """Cuts anywhere, and runs of cuts a few bytes apart (chunks of 1-3 bytes), so that
    escapes, quotes, separators and headers get cut at every place within them."""
    runs = st.tuples(st.integers(0, len(dump)), st.integers(1, 3), st.integers(1, 24))
    return st.tuples(
        st.lists(st.integers(0, len(dump)), max_size=20), st.lists(runs, max_size=4)
    ).map(
        lambda drawn: (
            drawn[0] + [start + step * i for start, step, count in drawn[1] for i in range(count)]
        )
    )


# --- PostgreSQL: pg_dump's plain format ------------------------------------------------

# Bytes that matter to COPY's text format and to the counter, and then anything.
PG_AWKWARD = [b"\\", b"\n", b"\r", b"\t", b".", b"\\.", b"\n\\.\n", b"COPY ", b"\x00", b"\xff"]


def pg_field(value: bytes | None) -> bytes:
    """A value as COPY TO writes it in text format."""
    if value is None:
        return b"\\N"
    return (
        value.replace(b"\\", b"\\\\")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )


def pg_ident(name: str) -> bytes:
    """pg_dump's fmtId: bare when lower-case letters, digits and underscores, else quoted."""
    bare = name and (name[0].isascii() and (name[0].islower() or name[0] == "_"))
    if bare and all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in name):
        return name.encode()
    return b'"' + name.replace('"', '""').encode() + b'"'


pg_values = st.one_of(
    st.none(),
    st.binary(max_size=12),
    st.lists(st.sampled_from(PG_AWKWARD), max_size=4).map(b"".join),
)
pg_names = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    st.text(alphabet='aZ é."()\n;,-', min_size=1, max_size=10),
)


@st.composite
def pg_tables(draw: st.DrawFn) -> tuple[str, str, int, list[list[bytes | None]]]:
    schema, name = draw(pg_names), draw(pg_names)
    columns = draw(st.integers(0, 4))  # a table may have no column: its rows are empty lines
    rows = draw(st.lists(st.lists(pg_values, min_size=columns, max_size=columns), max_size=6))
    return schema, name, columns, rows


PG_NOISE = [
    b"--\n-- Name: f(); Type: FUNCTION; Schema: public; Owner: o\n--\n\n"
    b"CREATE FUNCTION public.f() RETURNS void LANGUAGE sql AS $$\n"
    b"COPY public.fake (a) FROM stdin;\n1\n2\n\\.\n$$;\n\n\n",
    b"--\n-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -\n--\n\n"
    b"BEGIN;\nSELECT pg_catalog.lowrite(0, '\\x0a5c2e0a');\nCOMMIT;\n\n",
    b"--\n-- Name: t; Type: TABLE; Schema: public; Owner: o\n--\n\n"
    b"CREATE TABLE public.t (\n    a integer\n);\n\n\n",
    b"--\n-- Name: c; Type: COMMENT; Schema: public; Owner: o\n--\n\n"
    b"COMMENT ON TABLE public.t IS '\n-- Data for Name: t; Type: TABLE DATA; Schema: x\n';\n\n",
]


def pg_dump(
    tables: list[tuple[str, str, int, list[list[bytes | None]]]], noise: list[int]
) -> tuple[bytes, dict[TableKey, int]]:
    parts = [b"--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n"]
    expected: dict[TableKey, int] = {}
    for index, (schema, name, columns, rows) in enumerate(tables):
        parts.append(PG_NOISE[noise[index % len(noise)] % len(PG_NOISE)] if noise else b"")
        key = (schema.encode(), name.encode())
        expected[key] = expected.get(key, 0) + len(rows)
        listed = b", ".join(pg_ident(f"c{i}") for i in range(columns))
        column_list = b" (" + listed + b")" if columns else b" "
        comment_name = name.replace("\n", " ").encode()
        parts.append(
            b"--\n-- Data for Name: "
            + comment_name
            + b"; Type: TABLE DATA; Schema: "
            + schema.replace("\n", " ").encode()
            + b"; Owner: postgres\n--\n\n"
            + b"COPY "
            + pg_ident(schema)
            + b"."
            + pg_ident(name)
            + column_list
            + b" FROM stdin;\n"
        )
        parts += [b"\t".join(pg_field(v) for v in row) + b"\n" for row in rows]
        parts.append(b"\\.\n\n\n")
    parts.append(b"--\n-- PostgreSQL database dump complete\n--\n\n")
    return b"".join(parts), expected


@SETTINGS
@given(st.data(), st.lists(pg_tables(), max_size=5), st.lists(st.integers(0, 9), max_size=5))
def test_copy_counter_counts_each_tables_rows_wherever_the_chunks_are_cut(
    data: st.DataObject,
    tables: list[tuple[str, str, int, list[list[bytes | None]]]],
    noise: list[int],
) -> None:
    dump, expected = pg_dump(tables, noise)
    cuts = data.draw(cut_points(dump))
    assert counted(PostgresRowCounter(), dump, cuts) == expected


PG_SAMPLE = (
    b"--\n-- PostgreSQL database dump\n--\n\n"
    + PG_NOISE[0]
    + b"--\n-- Data for Name: t1; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
    b"COPY public.t1 (id, body) FROM stdin;\n1\ta\\nb\\\\c\\t\n2\t\\\\.\n3\t\\N\n\\.\n\n\n"
    b"--\n-- Data for Name: Odd; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
    b'COPY public."Odd ""Name"".x" ("co)l", "select") FROM stdin;\n1\tx\n\\.\n\n\n'
    b"--\n-- Data for Name: nocols; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
    b"COPY public.nocols  FROM stdin;\n\n\n\\.\n\n\n"
    b"--\n-- Data for Name: empty; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
    b"COPY public.empty (a) FROM stdin;\n\\.\n\n\n"
    b"--\n-- Data for Name: new line; Type: TABLE DATA; Schema: public; Owner: postgres\n"
    b'--\n\nCOPY public."new\nline" (a) FROM stdin;\n1\n2\n\\.\n\n\n'
    + PG_NOISE[1]
    + b"--\n-- PostgreSQL database dump complete\n--\n\n"
)
PG_SAMPLE_ROWS = {
    (b"public", b"t1"): 3,
    (b"public", b'Odd "Name".x'): 1,
    (b"public", b"nocols"): 2,
    (b"public", b"empty"): 0,
    (b"public", b"new\nline"): 2,
}


def test_copy_counter_needs_the_table_data_comment() -> None:
    """The same COPY text in a function body (no TOC comment before it) is not a block."""
    assert counted(PostgresRowCounter(), PG_NOISE[0] + PG_NOISE[3], []) == {}


# --- MySQL / MariaDB: mysqldump and mariadb-dump -------------------------------------------

MY_AWKWARD = [b"'", b"\\", b"(", b")", b"),(", b"),\n(", b";", b";\n", b",", b"\n", b"\x00"]


def my_string(value: bytes) -> bytes:
    """A string value as mysql_real_escape_string writes it."""
    escaped = (
        value.replace(b"\\", b"\\\\")
        .replace(b"\x00", b"\\0")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"'", b"\\'")
        .replace(b'"', b'\\"')
        .replace(b"\x1a", b"\\Z")
    )
    return b"'" + escaped + b"'"


def my_ident(name: str) -> bytes:
    return b"`" + name.replace("`", "``").encode() + b"`"


my_values = st.one_of(
    st.just(b"NULL"),
    st.integers(-(2**63), 2**64).map(lambda n: str(n).encode()),
    st.just(b"-1.5e-300"),
    st.binary(max_size=6).map(lambda b: b"0x" + b.hex().upper().encode() if b else b"''"),
    st.binary(max_size=12).map(my_string),
    st.lists(st.sampled_from(MY_AWKWARD), max_size=5).map(lambda p: my_string(b"".join(p))),
)
my_names = st.text(alphabet="ab`'é (),;\n", min_size=1, max_size=8)


@dataclass(frozen=True)
class MyTable:
    name: str
    tuples: list[bytes]
    statement_sizes: list[int]  # tuples per INSERT
    with_columns: bool  # MariaDB names them for invisible columns, MySQL for generated ones
    verb: bytes  # --insert-ignore and --replace in an option file change it
    bare: bool  # --skip-quote-names

    @property
    def quoted(self) -> bytes:
        return self.name.encode() if self.bare else my_ident(self.name)


@st.composite
def my_tables(draw: st.DrawFn) -> MyTable:
    name = draw(my_names)
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(my_values, min_size=width, max_size=width), max_size=8))
    tuples = [b"(" + b",".join(row) + b")" for row in rows]
    sizes = draw(st.lists(st.integers(1, 4), min_size=len(tuples), max_size=len(tuples)))
    verb = draw(st.sampled_from([b"INSERT INTO", b"INSERT IGNORE INTO", b"REPLACE INTO"]))
    bare = draw(st.booleans()) and all(c in "abé" for c in name)
    return MyTable(name, tuples, sizes, draw(st.booleans()), verb, bare)


MY_NOISE = [
    b"--\n-- Table structure for table `t`\n--\n\nDROP TABLE IF EXISTS `t`;\n"
    b"CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL\n) ENGINE=InnoDB;\n\n",
    b"DELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER `tr` AFTER INSERT ON `t` FOR EACH ROW\n"
    b"INSERT INTO `audit` VALUES (NEW.a, ');\n(')\n */;;\nDELIMITER ;\n",
    b"/*!50001 CREATE VIEW `v` AS SELECT\n 1 AS `a` */;\n",
    b"-- Dumping routines for database 'd'\n--\nINSERT INTO `x` VALUES (1),(2);\n",
]


def my_dump(
    tables: list[MyTable], one_line: bool, noise: list[int]
) -> tuple[bytes, dict[TableKey, int]]:
    """mariadb-dump's layout (a tuple per line), or MySQL's (a statement per line)."""
    parts = [b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n"]
    expected: dict[TableKey, int] = {}
    for index, table in enumerate(tables):
        parts.append(MY_NOISE[noise[index % len(noise)] % len(MY_NOISE)] if noise else b"")
        key = (None, table.name.encode())
        expected[key] = expected.get(key, 0) + len(table.tuples)
        name = table.quoted
        columns = b" (`a`, `b``)`)" if table.with_columns else b""
        head = table.verb + b" " + name + columns + b" VALUES"
        parts.append(
            # The tool goes on with "-- " after a newline in a name in a comment.
            b"\n--\n-- Dumping data for table " + name.replace(b"\n", b"\n-- ") + b"\n--\n\n"
            b"LOCK TABLES " + name + b" WRITE;\n"
            b"/*!40000 ALTER TABLE " + name + b" DISABLE KEYS */;\n"
        )
        start = 0
        for size in table.statement_sizes:
            if start >= len(table.tuples):
                break
            chunk = table.tuples[start : start + size]
            start += size
            if one_line:
                parts.append(head + b" " + b",".join(chunk) + b";\n")
            else:
                parts.append(head + b"\n" + b",\n".join(chunk) + b";\n")
        parts.append(b"/*!40000 ALTER TABLE " + name + b" ENABLE KEYS */;\nUNLOCK TABLES;\n")
    parts.append(b"-- Dump completed on 2026-01-01  0:00:00\n")
    return b"".join(parts), expected


@SETTINGS
@given(
    st.data(),
    st.lists(my_tables(), max_size=5),
    st.booleans(),
    st.lists(st.integers(0, 9), max_size=5),
)
def test_insert_counter_counts_each_tables_tuples_wherever_the_chunks_are_cut(
    data: st.DataObject,
    tables: list[MyTable],
    one_line: bool,
    noise: list[int],
) -> None:
    dump, expected = my_dump(tables, one_line, noise)
    cuts = data.draw(cut_points(dump))
    assert counted(MySqlRowCounter(), dump, cuts) == expected


MY_SAMPLE = (
    b"-- MariaDB dump 10.19\n"
    + MY_NOISE[0]
    + b"LOCK TABLES `t1` WRITE;\n/*!40000 ALTER TABLE `t1` DISABLE KEYS */;\n"
    b"INSERT INTO `t1` VALUES\n(1,'a\\nb\\\\c\t\\'q\\\"),(',0x00FF27),\n(2,'),(',NULL),\n"
    b"(3,NULL,'');\nINSERT INTO `t1` VALUES (4,'\\\\',0x),(5,'(\\\\\\'(',''),(6,'x',0x00);\n"
    b"/*!40000 ALTER TABLE `t1` ENABLE KEYS */;\nUNLOCK TABLES;\n"
    + MY_NOISE[1]
    + b"LOCK TABLES `Odd ``Name``.x` WRITE;\n"
    b"INSERT INTO `Odd ``Name``.x` (`a`) VALUES\n(1),\n(2);\n"
    b"UNLOCK TABLES;\nLOCK TABLES `empty` WRITE;\nUNLOCK TABLES;\n"
    + MY_NOISE[3]
    + b"-- Dump completed on 2026-01-01  0:00:00\n"
)
MY_SAMPLE_ROWS = {(None, b"t1"): 6, (None, b"Odd `Name`.x"): 2, (None, b"empty"): 0}


@pytest.mark.parametrize(
    ("counter", "dump", "rows"),
    [
        (PostgresRowCounter, PG_SAMPLE, PG_SAMPLE_ROWS),
        (MySqlRowCounter, MY_SAMPLE, MY_SAMPLE_ROWS),
    ],
)
def test_counter_cut_at_every_position(
    counter: type[RowCounter], dump: bytes, rows: dict[TableKey, int]
) -> None:
    assert counted(counter(), dump, []) == rows
    for cut in range(len(dump) + 1):
        assert counted(counter(), dump, [cut]) == rows, cut
    assert counted(counter(), dump, range(len(dump))) == rows  # one byte at a time


def test_insert_counter_ignores_inserts_outside_a_data_section() -> None:
    """Trigger and routine bodies hold INSERTs too; only LOCK TABLES sections are data."""
    assert counted(MySqlRowCounter(), b"".join(MY_NOISE), []) == {}


def test_a_string_cut_after_its_backslash_goes_on_in_the_next_chunk() -> None:
    # One long row, MySQL's layout: the escaped quote (\') straddles the cut.
    dump = b"\nLOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES (1,'" + b"x" * 5000 + b"\\"
    rest = b"'y),(z'),(2),(3,'a\\\\'),(4,'b\\\\\\'(');\nUNLOCK TABLES;\n"
    # A middle chunk all inside the string: its first byte is what the backslash escapes,
    # and it ends after a backslash of its own.
    for middle in (b"", b"x\\", b"\\\\", b"\\q\\\\\\"):
        counter = MySqlRowCounter()
        for chunk in (dump, middle, rest) if middle else (dump, rest):
            counter.feed(chunk)
        assert counter.tables() == {(None, b"t"): 4}, middle


# --- the manifest made of the catalogue and the counts ------------------------------------


def test_manifest_lists_the_catalogue_then_the_dumps_other_tables() -> None:
    """A catalogue table without a data block counts 0 (a partitioned table); a data block
    of a table the catalogue does not list is listed after the others (the manifest says
    what the dump holds); an extension's table the catalogue set apart is left out."""
    catalogue = Catalogue(
        server_version="15.2",
        tool_version="pg_dump 15.2",
        tables=[("public", "parted"), ("public", "Émile")],
        encoding="latin-1",
        skipped=frozenset({("public", "spatial_ref_sys")}),
    )
    counts = {
        (b"public", "Émile".encode("latin-1")): 4,
        (b"public", b"spatial_ref_sys"): 12,
        (b"zz", b"late"): 1,
        (b"aa", b"early"): 0,
    }
    manifest = dump_manifest(Engine.POSTGRESQL, "db", catalogue, counts)
    assert [(t.schema_name, t.name, t.rows) for t in manifest.tables] == [
        ("public", "parted", 0),
        ("public", "Émile", 4),
        ("aa", "early", 0),
        ("zz", "late", 1),
    ]
    assert (manifest.server_version, manifest.tool_version) == ("15.2", "pg_dump 15.2")


def test_each_engine_has_its_counter() -> None:
    assert isinstance(row_counter_for(Engine.POSTGRESQL), PostgresRowCounter)
    assert isinstance(row_counter_for(Engine.MARIADB), MySqlRowCounter)
    assert isinstance(row_counter_for(Engine.MYSQL), MySqlRowCounter)


def test_loading_the_counter_starts_no_thread() -> None:
    """numpy's OpenBLAS would start a thread that spins on the dump's cores: in a fresh
    process, as a worker's first backup, making a counter leaves the process one thread."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    probe = (
        "import os, sys\n"
        "from shared.models import Engine\n"
        "from shared.pipeline.row_counts import row_counter_for\n"
        "row_counter_for(Engine.POSTGRESQL)\n"
        "assert 'numpy' in sys.modules, 'the counter no longer loads numpy'\n"
        "print(len(os.listdir('/proc/self/task')))\n"
    )
    threads = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    assert threads.strip() == "1"


@SETTINGS
@given(
    st.lists(st.sampled_from([b"\\", b".", b"\n", b";", b"x"]), max_size=80).map(b"".join),
    st.sampled_from([(b"\n\\.\n", 1), (b";\n", 0)]),
    st.integers(0, 80),
)
def test_the_rare_byte_search_finds_what_find_finds(
    buffer: bytes, needle_and_rare: tuple[bytes, int], start: int
) -> None:
    """Many false hits of the rare byte (past the memchr tries) included."""
    needle, rare = needle_and_rare
    assert find_by_rare_byte(buffer, needle, start, rare) == buffer.find(needle, start)


# Where find_bytes's windows (64 KiB, doubling) end, in a buffer searched from 0.
WINDOW_EDGES = [65_536, 196_608, 458_752]


NEEDLES = [b"\n\\.\n", b";\n", b"\n\\."]


@SETTINGS
@given(
    st.lists(st.sampled_from([b"\\", b".", b"\n", b";", b"x"]), min_size=1, max_size=60).map(
        b"".join
    ),
    st.integers(1_100, 12_000),
    st.sampled_from(NEEDLES),
    st.booleans(),
    st.one_of(
        st.none(),
        st.integers(0, 600_000),
        st.sampled_from(WINDOW_EDGES).flatmap(lambda edge: st.integers(edge - 4, edge + 1)),
    ),
    st.one_of(st.integers(0, 70_000), st.just(0)),
)
def test_the_numpy_search_finds_what_find_finds(
    unit: bytes, repeats: int, needle: bytes, clean: bool, planted: int | None, start: int
) -> None:
    """Buffers long enough for numpy (64 KiB and more), full of the needle's bytes, with the
    needle where the data put it, or only where it is planted: anywhere, across a window's
    edge, at odd and even places, or nowhere."""
    buffer = (unit * repeats)[:600_000]
    while clean and needle in buffer:
        buffer = buffer.replace(needle, b"")
    if planted is not None:
        buffer = buffer[:planted] + needle + buffer[planted:]
    assert find_bytes(buffer, needle, start) == buffer.find(needle, start)


@pytest.mark.parametrize("needle", NEEDLES)
@pytest.mark.parametrize("length", [edge + d for edge in WINDOW_EDGES[:2] for d in (-1, 0, 1)])
def test_the_numpy_search_reaches_the_last_bytes(needle: bytes, length: int) -> None:
    """The needle, whole or cut short, ends the buffer, which may end where a window does.
    The filler holds the needles' first bytes but none of them whole."""
    filler = (b"\n\\x;." * 120_000)[:length]
    for cut in range(len(needle)):
        buffer = filler + needle[: len(needle) - cut]
        expected = length if cut == 0 else -1
        assert find_bytes(buffer, needle, 0) == expected
        assert find_bytes(buffer, needle, length - 1) == expected


def test_threads_counting_at_once_get_their_own_answers() -> None:
    """Each thread's comparisons use a scratch array of their own: numpy releases the GIL
    while it compares, so a shared one would mix one thread's bytes into another's count."""
    buffers = [b"x" * size + b"\n" * lines for size, lines in ((300_000, 7), (70_000, 90_001))]

    def count(buffer: bytes) -> list[int]:
        return [count_newlines(buffer) for _ in range(300)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(count, buffers * 2))
    assert [set(result) for result in results] == [{7}, {90_001}, {7}, {90_001}]


@SETTINGS
@given(
    st.lists(st.sampled_from([b"\n", b"x", b"\\", b"\n("]), min_size=1, max_size=40).map(b"".join),
    st.integers(1_600, 6_000),
    st.integers(-10, 300_000),
    st.integers(-10, 300_000),
)
def test_newlines_are_counted_as_bytes_count_counts_them(
    unit: bytes, repeats: int, start: int, stop: int
) -> None:
    """Spans long enough for the numpy scan (64 KiB and more) and short ones, stops past
    the end and starts after the stop included."""
    buffer = unit * repeats
    start = max(0, start)
    assert count_newlines(buffer, start, stop) == buffer.count(b"\n", start, stop)
    assert count_newlines(buffer, start) == buffer.count(b"\n", start)


BIG_ROWS = 100_000
PG_BIG = (
    b"--\n-- Data for Name: big; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
    b"COPY public.big (id, body) FROM stdin;\n"
    + b"".join(b"%d\ta\\nb\\\\.\t\\N\n" % i for i in range(BIG_ROWS))
    + b"\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
)
MY_BIG = (
    b"LOCK TABLES `big` WRITE;\nINSERT INTO `big` VALUES\n"
    + b",\n".join(b"(%d,'a\\nb),\\\\(',NULL)" % i for i in range(BIG_ROWS))
    + b";\nUNLOCK TABLES;\n-- Dump completed on 2026-01-01  0:00:00\n"
)


@pytest.mark.parametrize("chunk", [10**9, 1024 * 1024, 65_536 + 7, 100_003])
@pytest.mark.parametrize(
    ("counter", "dump", "key"),
    [(PostgresRowCounter, PG_BIG, (b"public", b"big")), (MySqlRowCounter, MY_BIG, (None, b"big"))],
    ids=["copy", "insert"],
)
def test_a_large_block_is_counted_whatever_its_chunks(
    counter: type[RowCounter], dump: bytes, key: TableKey, chunk: int
) -> None:
    """Blocks of a few MB, in chunks as the pipeline reads them (1 MiB) and others: the
    spans the numpy scan takes."""
    assert len(dump) > 1024 * 1024
    assert counted(counter(), dump, range(chunk, len(dump), chunk)) == {key: BIG_ROWS}


# --- schema text that reads like data, generated -------------------------------------------
# Strings, quoted names, dollar quotes and comments of every kind, holding quotes, escapes,
# newlines, comment marks and whole fake data blocks, written the way the tools write them;
# between them, real data blocks. Only the real ones count, wherever the chunks are cut.

PG_FAKE = (
    "\n--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: o\n--\n\n"
    "COPY public.t (a) FROM stdin;\n1\n2\n\\.\n\n"
)
PG_TEXT = st.lists(
    st.sampled_from(["'", "''", '"', "$", "$_$", "\\", "\\'", "\n", "--", "/*", "*/", "E'", ";"])
    | st.just(PG_FAKE)
    | st.text(alphabet="aE_$ \n", max_size=3),
    max_size=8,
).map("".join)


@st.composite
def pg_schema_piece(draw: st.DrawFn, escapes: bool) -> str:
    """One thing at the top level of pg_dump's text; `escapes` when the dump set
    standard_conforming_strings off (a backslash then escapes in '…' too)."""
    text = draw(PG_TEXT)
    kind = draw(st.sampled_from(["string", "e", "name", "dollar", "line", "block", "meta"]))
    if kind == "string":
        if not escapes:
            return "'" + text.replace("'", "''") + "'"
        # pg_dump doubles both; psql also reads \' (the quote escaped) in such a string.
        quote = draw(st.sampled_from(["''", "\\'"]))
        return "'" + text.replace("\\", "\\\\").replace("'", quote) + "'"
    if kind == "e":
        return (
            "E'"
            + text.replace("\\", "\\\\").replace("'", draw(st.sampled_from(["''", "\\'"])))
            + "'"
        )
    if kind == "name":
        return '"' + text.replace('"', '""') + '"'
    if kind == "dollar":
        # pg_dump picks a tag that the body does not hold ("$" + tag, so none straddles).
        tag = next(t for t in ["", "_", "_X", "__X", "f1"] if "$" + t not in text)
        if "$" in text and tag == "":
            tag = "_"
        return f"${tag}${text}${tag}$"
    if kind == "line":
        return "--" + text.replace("\n", " ") + "\n"
    if kind == "block":  # nested once, as PostgreSQL allows
        flat = text.replace("/*", "/ *").replace("*/", "* /")
        return "/* " + flat + " /* " + flat + " */ " + flat + " */"
    return "\\restrict " + "".join(c for c in text if c.isalnum()) + "\n"


@st.composite
def pg_schema(draw: st.DrawFn) -> str:
    """Schema text between data blocks: pieces with blanks and semicolons between them,
    and now and then the dump's switch of standard_conforming_strings."""
    parts, escapes = ["\n"], False  # each schema text ends with it on
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 4)) == 0:
            escapes = not escapes
            parts.append(f"\nSET standard_conforming_strings = {'off' if escapes else 'on'};\n")
        parts.append(draw(pg_schema_piece(escapes)))
        parts.append(draw(st.sampled_from([" ", "\n", ";\n", " x "])))
    parts.append("\nSET standard_conforming_strings = on;\n")
    return "".join(parts)


@SETTINGS
@given(st.data(), st.lists(st.tuples(pg_schema(), pg_tables()), max_size=4))
def test_copy_counter_skips_generated_schema_text(
    data: st.DataObject, pieces: list[tuple[str, tuple[str, str, int, list[list[bytes | None]]]]]
) -> None:
    parts, expected = [], {}
    for schema, table in pieces:
        dump, rows = pg_dump([table], [])
        parts += [schema.encode(), dump]
        for key, count in rows.items():
            expected[key] = expected.get(key, 0) + count
    dump = b"".join(parts)
    assert counted(PostgresRowCounter(), dump, data.draw(cut_points(dump))) == expected


MY_FAKE = (
    "\nLOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
    "INSERT INTO `t` VALUES\n(1),\n(2);\nUNLOCK TABLES;\n"
)
MY_TEXT = st.lists(
    st.sampled_from(["'", "''", '"', "`", "\\", "\\'", "\n", "-- ", "#", "/*", "*/", ";;"])
    | st.just(MY_FAKE)
    | st.text(alphabet="aM! \n", max_size=3),
    max_size=8,
).map("".join)
MY_MODE = "/*!50003 SET sql_mode              = {} */ ;\n"


@st.composite
def my_schema_piece(draw: st.DrawFn, no_backslash_escapes: bool) -> str:
    text = draw(MY_TEXT)
    kind = draw(st.sampled_from(["'", '"', "`", "--", "#", "block", "versioned", "delimiter"]))
    if kind in ("'", '"'):
        if no_backslash_escapes:
            return kind + text.replace(kind, kind + kind) + kind
        escaped = text.replace("\\", "\\\\").replace("\n", draw(st.sampled_from(["\n", "\\n"])))
        return (
            kind + escaped.replace(kind, draw(st.sampled_from([kind + kind, "\\" + kind]))) + kind
        )
    if kind == "`":
        return "`" + text.replace("`", "``") + "`"
    if kind in ("--", "#"):
        return kind + " " + text.replace("\n", " ") + "\n"
    if kind == "block":
        return "/* " + text.replace("*/", "* /") + " */"
    if kind == "versioned":  # its text is read: a trigger's body, say, with its strings
        inner = draw(my_schema_piece(no_backslash_escapes))
        return "/*!50003 CREATE*/ /*!50003 TRIGGER x " + inner + " */"
    return "\nDELIMITER ;;\n" + draw(my_schema_piece(no_backslash_escapes)) + ";;\nDELIMITER ;\n"


@st.composite
def my_schema(draw: st.DrawFn) -> str:
    """Schema text between data sections; now and then a routine made under
    NO_BACKSLASH_ESCAPES, between the dump's setting of that mode and its reset."""
    parts, mode = ["\n"], False
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 4)) == 0:
            mode = not mode
            value = "'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'" if mode else "@saved_sql_mode"
            parts.append("\n" + MY_MODE.format(value))
        parts.append(draw(my_schema_piece(mode)))
        parts.append(draw(st.sampled_from([" ", "\n", ";\n", " x "])))
    parts.append("\n" + MY_MODE.format("@saved_sql_mode"))
    return "".join(parts)


@SETTINGS
@given(st.data(), st.lists(st.tuples(my_schema(), my_tables()), max_size=4), st.booleans())
def test_insert_counter_skips_generated_schema_text(
    data: st.DataObject, pieces: list[tuple[str, MyTable]], one_line: bool
) -> None:
    parts, expected = [], {}
    for schema, table in pieces:
        dump, rows = my_dump([table], one_line, [])
        parts += [schema.encode(), dump]
        for key, count in rows.items():
            expected[key] = expected.get(key, 0) + count
    dump = b"".join(parts)
    assert counted(MySqlRowCounter(), dump, data.draw(cut_points(dump))) == expected
