"""Pure pieces of the pipeline: names, block sizes, sanitising, manifest comparison, the
watchdog's verdict, the checksum message."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from shared.engines.postgres import parse_inserted_rows
from shared.models import DumpManifest, Engine, TableManifest
from shared.pipeline.blocks import MAX_BLOCK_SIZE, MAX_BLOCKS, block_size_for
from shared.pipeline.manifests import compare_manifests
from shared.pipeline.naming import backup_blob_name
from shared.pipeline.process import OutputAfterMarker, Watchdog
from shared.pipeline.results import PipelineOptions
from shared.pipeline.sanitize import sanitize, tail_text
from shared.pipeline.streams import checksum_mismatch
from shared.storage.blobs import block_id, safe_tags

MIB = 1024 * 1024


def test_blob_name_layout_is_utc_and_per_engine() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert (
        backup_blob_name("srv-1", "db-2", at, "rec-3", Engine.POSTGRESQL)
        == "srv-1/db-2/2026/03/04/20260304T030607Z-rec-3.sql.zst"
    )
    assert backup_blob_name("s", "d", at, "r", Engine.SQLSERVER).endswith("-r.bak")


@pytest.mark.parametrize("bad", ["../x", "a/b", "UPPER", "", "-lead"])
def test_blob_name_rejects_unsafe_ids(bad: str) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        backup_blob_name(bad, "db", at, "rec", Engine.MARIADB)
    with pytest.raises(ValueError):
        backup_blob_name("srv", "db", at, bad, Engine.MARIADB)


def test_blob_name_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        backup_blob_name("s", "d", datetime(2026, 1, 1), "r", Engine.MYSQL)


def blocks_needed(total: int, initial: int = 8 * MIB) -> int:
    index = done = 0
    while done < total:
        done += block_size_for(index, initial)
        index += 1
    return index


def test_ten_tebibytes_stored_stay_far_below_the_block_cap() -> None:
    assert block_size_for(0, 8 * MIB) == 8 * MIB
    assert block_size_for(999, 8 * MIB) == 8 * MIB
    assert block_size_for(1000, 8 * MIB) == 16 * MIB
    assert block_size_for(10**6, 8 * MIB) == MAX_BLOCK_SIZE
    needed = blocks_needed(10 * 1024**4)
    assert needed < MAX_BLOCKS * 0.6, needed
    assert blocks_needed(1024**3) == 128  # a 1 GiB dump keeps its 8 MiB blocks


def test_block_ids_have_one_length() -> None:
    assert len({len(block_id(i)) for i in (0, 9, 10_000, 49_999)}) == 1


def test_sanitize_removes_password_forms() -> None:
    text = (
        "password=hunter2 PWD=abc; Password: 'x y' "
        "https://acct.blob.core.windows.net/c?sv=1&sig=SECRETSIG&se=2 "
        "postgresql://user:topsecret@host/db and the literal Zq9-value"
    )
    clean = sanitize(text, ["Zq9-value"])
    for secret in ("hunter2", "abc", "x y", "SECRETSIG", "topsecret", "Zq9-value"):
        assert secret not in clean
    assert "sig=***" in clean and "host/db" in clean


def test_sanitize_redacts_the_secret_not_the_words_that_contain_it() -> None:
    """A short password ("x") once turned "expected" into "e***pected"."""
    text = "expected 1 row; user x@10.0.0.4 (password x); xx; [x] and ex-x"
    assert sanitize(text, ["x"]) == (
        "expected 1 row; user ***@10.0.0.4 (password ***); xx; [***] and ex-***"
    )
    assert sanitize("a!tok!b and !tok!", ["!tok!"]) == "a***b and ***"  # edges not letters
    assert sanitize("pässwörd1 and pässwörd12", ["pässwörd1"]) == "*** and pässwörd12"
    assert sanitize("url p%40ss here", ["p@ss"]) == "url *** here"  # URL-quoted form


def test_tail_text_keeps_the_end_and_sanitises_first() -> None:
    data = b"x" * 5000 + b" password=verysecret\nlast line"
    tail = tail_text(data, limit=100)
    assert tail.endswith("last line") and "verysecret" not in tail and len(tail) <= 100


def test_tags_are_cleaned_to_what_blob_storage_accepts() -> None:
    tags = safe_tags({"server_version": "10.11.6-MariaDB-0+deb12u1 (Debian)", "a": "ok"})
    assert tags["server_version"] == "10.11.6-MariaDB-0+deb12u1 _Debian_"


def test_manifest_comparison_reports_missing_extra_and_changed() -> None:
    def manifest(database: str, tables: dict[str, int]) -> DumpManifest:
        return DumpManifest(
            engine=Engine.MARIADB,
            database=database,
            server_version="1",
            tool_version="1",
            tables=[TableManifest(schema_name=database, name=n, rows=r) for n, r in tables.items()],
        )

    source = manifest("src", {"a": 1, "b": 2, "c": 3})
    target = manifest("dst", {"a": 1, "b": 5, "d": 0})
    found = [(d.table, d.expected_rows, d.actual_rows) for d in compare_manifests(source, target)]
    assert found == [("b", 2, 5), ("c", 3, None), ("d", None, 0)]
    assert compare_manifests(source, manifest("other", {"a": 1, "b": 2, "c": 3})) == []


def test_options_come_from_the_settings_fields() -> None:
    settings = SimpleNamespace(
        compression_level=7,
        compression_threads=1,
        block_size_mb=16,
        block_size_bytes=16 * MIB,
        upload_concurrency=2,
        dump_timeout_seconds=60,
        manifest_snapshot_count=True,
    )
    options = PipelineOptions.from_settings(settings)
    assert (options.compression_level, options.compression_threads) == (7, 1)
    assert (options.block_size, options.upload_concurrency) == (16 * MIB, 2)
    assert options.timeout_seconds == 60
    assert options.snapshot_row_count


def test_options_from_the_real_settings_defaults() -> None:
    from shared.settings import Settings

    settings = Settings(
        backup_storage_connection_string="UseDevelopmentStorage=true",
        secret_store="local",
        auth_mode="development",
    )
    assert PipelineOptions.from_settings(settings) == PipelineOptions()


def test_watchdog_records_why_it_fired() -> None:
    cancel, heard = threading.Event(), list[str]()
    cancel.set()
    with Watchdog(heard.append, 60, cancel) as cancelled:
        while cancelled.fired is None:
            time.sleep(0.01)
    assert (cancelled.fired_kind, cancelled.fired) == ("cancelled", "it was cancelled")
    with Watchdog(heard.append, 0, None) as expired:
        while expired.fired is None:
            time.sleep(0.01)
    assert (expired.fired_kind, expired.fired) == ("timeout", "it exceeded its time limit")
    assert heard == ["it was cancelled", "it exceeded its time limit"]
    with Watchdog(heard.append, 60, threading.Event()) as quiet:
        pass
    assert (quiet.fired_kind, quiet.fired) == (None, None)


def test_checksum_mismatch_ignores_the_recorded_case() -> None:
    assert checksum_mismatch("ab" * 32, "AB" * 32) is None
    assert checksum_mismatch("ab" * 32, "cd" * 32) == (
        f"checksum mismatch: the blob hashes to {'ab' * 32}, the record says {'cd' * 32}"
    )


def test_only_what_follows_the_output_marker_is_kept() -> None:
    """The restore tool's output: the dump's own query results are dropped, the answer
    after our marker kept, whatever the chunks' cuts (the marker split in two, say)."""
    marker = b"4f" * 32
    output = b"\n\n102\n" + marker + b"\ton\n16384\t8\n16390\t0\n"
    for cut in range(1, len(output)):
        kept = OutputAfterMarker(marker)
        kept.feed(output[:cut])
        kept.feed(output[cut:])
        assert kept.text == b"\ton\n16384\t8\n16390\t0\n", cut
    assert OutputAfterMarker(marker).text is None  # never came: nothing known
    silent = OutputAfterMarker(marker)
    silent.feed(b"\ton\n16384\t8\n")  # the answer without the marker is not taken
    assert silent.text is None


def test_too_much_after_the_output_marker_is_not_taken_half(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shared.pipeline.process.OUTPUT_AFTER_MARKER_BYTES", 10)
    kept = OutputAfterMarker(b"M")
    kept.feed(b"M\ton\n1\t2\n")
    kept.feed(b"3\t4\n")
    assert kept.text is None


def test_inserted_rows_are_read_only_from_psqls_exact_report() -> None:
    assert parse_inserted_rows(b"\ton\n16384\t8\n16390\t0\n16400\t-0\n") == {
        16384: 8,
        16390: 0,
        16400: 0,
    }
    assert parse_inserted_rows(b"\ton\n") == {}
    assert parse_inserted_rows(None) is None
    assert parse_inserted_rows(b"\toff\n16384\t0\n") is None  # the server keeps no counts
    assert parse_inserted_rows(b"\ton\n16384\t8\nERROR: x\n") is None
    assert parse_inserted_rows(b"\ton\n16384 8\n") is None
