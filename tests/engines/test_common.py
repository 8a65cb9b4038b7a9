"""Shared engine helpers: names, private files, password file escaping, header filter."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.engines import mysql, postgres
from shared.engines.base import ConnectionErrorKind, ConnectionSpec, EngineError
from shared.engines.common import plain_host, private_file, require_database_name, scrub
from shared.engines.header_filter import HeaderLineFilter
from shared.engines.mysql import option_value
from shared.engines.postgres import pgpass_line
from shared.engines.registry import engine_for
from shared.models import Engine


@pytest.mark.parametrize("name", ["sales", "Sales_2026", "with space", "a.b-c$d", "_x"])
def test_good_database_names_pass(name: str) -> None:
    assert require_database_name(name) == name


@pytest.mark.parametrize(
    "name", ["-oops", "--help", "x; drop", "a'b", 'a"b', "a`b", "a=b", "", "x" * 200, "a\nb"]
)
def test_bad_database_names_fail(name: str) -> None:
    with pytest.raises(EngineError) as raised:
        require_database_name(name)
    assert raised.value.kind is ConnectionErrorKind.INVALID_REQUEST


def test_private_file_is_0600_new_and_removed(tmp_path: Path) -> None:
    with private_file(tmp_path, "secret", "content") as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text(encoding="utf-8") == "content"
        with private_file(tmp_path, "secret", "other") as second:
            assert second != path
    assert not list(tmp_path.iterdir())


def test_private_file_is_removed_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), private_file(tmp_path, "secret", "x"):
        raise RuntimeError("boom")
    assert not list(tmp_path.iterdir())


def _pgpass_fields(line: str) -> list[str]:
    """The fields of a pgpass line, split at unescaped colons and unescaped as libpq does."""
    fields, current, escaped = [], [], False
    for char in line.rstrip("\n"):
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*fields, "".join(current)]


def _pg_spec(username: str = "app", host: str = "db.example.net") -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.POSTGRESQL, host=host, port=6432, username=username, database="shop"
    )


@given(st.text(alphabet=st.characters(blacklist_characters="\r\n\x00"), min_size=1))
def test_pgpass_line_escapes_round_trip(password: str) -> None:
    line = pgpass_line(_pg_spec(), password)
    assert _pgpass_fields(line) == ["db.example.net", "6432", "shop", "app", password]


def test_pgpass_line_names_exactly_the_spec_never_a_wildcard() -> None:
    """A password file the tool gets answers for its own connection only: a `\\connect`
    or a changed PGHOST/PGDATABASE finds no password in it."""
    line = pgpass_line(_pg_spec(username="u:s\\er*", host="[::1]"), "pw")
    assert _pgpass_fields(line) == ["::1", "6432", "shop", "u:s\\er*", "pw"]


def test_pgpass_for_a_socket_folder_also_names_it_as_libpq_names_its_default_one() -> None:
    lines = pgpass_line(_pg_spec(host="/run/postgresql"), "pw").splitlines()
    assert [_pgpass_fields(line) for line in lines] == [
        ["/run/postgresql", "6432", "shop", "app", "pw"],
        ["localhost", "6432", "shop", "app", "pw"],
    ]


def test_line_breaks_are_refused_in_files() -> None:
    with pytest.raises(EngineError):
        option_value("a\nb")
    with pytest.raises(EngineError):
        pgpass_line(_pg_spec(), "a\nb")


def test_option_value_quotes_and_escapes() -> None:
    assert option_value('a"b\\c #d') == '"a\\"b\\\\c #d"'


def test_header_filter_drops_only_exact_header_lines() -> None:
    body = b"SET transaction_timeout = 0;\n" + b"x" * 100_000 + b"\nSET transaction_timeout = 0;\n"
    dump = b"SET a = 1;\nSET transaction_timeout = 0;\nSET b = 2;\n" + body
    header = HeaderLineFilter([b"SET transaction_timeout = 0;"], window=64)
    out = b"".join(header.feed(dump[i : i + 7]) for i in range(0, len(dump), 7)) + header.flush()
    # The window ends inside the body's first line: only whole lines before it are looked at.
    assert out == b"SET a = 1;\nSET b = 2;\n" + body


def test_header_filter_short_stream_and_no_lines() -> None:
    header = HeaderLineFilter([b"DROP ME"])
    assert header.feed(b"keep\nDROP ME\nkeep too") == b""
    assert header.flush() == b"keep\nkeep too"
    passthrough = HeaderLineFilter([])
    assert passthrough.feed(b"DROP ME\n") == b"DROP ME\n"


def test_registry_gives_each_engine() -> None:
    assert engine_for(Engine.POSTGRESQL).engine is Engine.POSTGRESQL
    assert engine_for(Engine.MYSQL).engine is Engine.MYSQL
    assert engine_for(Engine.MARIADB).engine is Engine.MARIADB
    assert engine_for(Engine.SQLSERVER).engine is Engine.SQLSERVER


def test_registry_engines_name_their_dump_completion_marker() -> None:
    # verify (activities/verify_restore.py) reads the marker through the registry.
    assert engine_for(Engine.POSTGRESQL).completion_marker == postgres.COMPLETION_MARKER
    assert engine_for(Engine.MYSQL).completion_marker == mysql.COMPLETION_MARKER
    assert engine_for(Engine.MARIADB).completion_marker == mysql.COMPLETION_MARKER
    assert engine_for(Engine.SQLSERVER).completion_marker is None


def test_plain_host_unwraps_ipv6_literals() -> None:
    spec = ConnectionSpec(engine=Engine.MARIADB, host="[::1]", port=1, username="u", database="d")
    assert plain_host(spec) == "::1"
    assert plain_host(spec.model_copy(update={"host": "db.example.net"})) == "db.example.net"


def test_scrub_removes_the_password_in_every_form_a_tool_is_given_it() -> None:
    password = 'p}w\\"q:x'
    spec = ConnectionSpec(
        engine=Engine.SQLSERVER, host="h", port=1, username="u", password=password, database="d"
    )
    braced = "{" + password.replace("}", "}}") + "}"
    for written in (password, braced, option_value(password), pgpass_line(spec, password)):
        cleaned = scrub(f"driver said: near {written} (42000)", spec)
        assert "***" in cleaned and "(42000)" in cleaned
        assert not any(piece in cleaned for piece in ("p}", "}w", "q:x", "q\\:x")), cleaned


# --- psql's \restrict: our prefix, the dump's own lines left out where pg_dump puts them ---

PG_DUMP_TOP = b"--\n-- PostgreSQL database dump\n--\n\n\\restrict DumpKey123\n\n-- Dumped by x\n\n"
PG_DUMP_END = b"\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict DumpKey123\n\n"


def _shaped(data: bytes, chunk: int, **options: object) -> bytes:
    shaper = HeaderLineFilter([], **options)  # type: ignore[arg-type]
    out = b"".join(shaper.feed(data[i : i + chunk]) for i in range(0, len(data), chunk))
    return out + shaper.flush()


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65_536, 1 << 20])
@pytest.mark.parametrize("body_size", [10, 5_000, 200_000])
def test_the_dumps_own_restrict_lines_are_left_out_and_ours_goes_first(
    chunk: int, body_size: int
) -> None:
    # COPY data whose values start with a carriage return, escaped as \r: they read like
    # meta-commands, but are data (and psql does not read them as commands).
    copy = b"COPY t (x) FROM stdin;\n\\restrict DumpKey123\n\\unrestrict DumpKey123\n\\.\n"
    body = copy + b"INSERT INTO t VALUES (1);\n" * (body_size // 26) + copy
    dump = PG_DUMP_TOP + body + PG_DUMP_END
    out = _shaped(dump, chunk, prefix=b"\\restrict Ours\n", drop_restrict=True)
    top = PG_DUMP_TOP.replace(b"\\restrict DumpKey123\n", b"")
    end = PG_DUMP_END.replace(b"\\unrestrict DumpKey123\n", b"")
    assert out == b"\\restrict Ours\n" + top + body + end


def test_a_forged_unrestrict_before_the_last_statement_stays() -> None:
    """Only the lines after the last statement are pg_dump's: one before it is the blob's,
    and psql refuses its wrong key."""
    dump = PG_DUMP_TOP + b"\\unrestrict DumpKey123\n\\! touch x\nSELECT 1;\n" + PG_DUMP_END
    out = _shaped(dump, 4096, prefix=b"\\restrict Ours\n", drop_restrict=True)
    assert b"\\unrestrict DumpKey123\n\\! touch x\n" in out
    assert out.count(b"\\unrestrict") == 1


def test_a_restrict_line_after_a_statement_is_not_the_dumps_header() -> None:
    dump = b"SET a = 1;\n\\restrict Other\nSELECT 1;\n"
    assert _shaped(dump, 3, drop_restrict=True) == dump


def test_the_prefix_goes_first_even_for_an_empty_dump() -> None:
    assert _shaped(b"", 10, prefix=b"\\restrict Ours\n", drop_restrict=True) == (
        b"\\restrict Ours\n"
    )
    shaper = HeaderLineFilter([], prefix=b"P\n")
    assert shaper.feed(b"x\n") == b"P\nx\n"  # nothing held back without lines to drop
    assert shaper.flush() == b""
