"""Benchmark of the backup pipeline against the shell pipeline a DBA would write.

For PostgreSQL and MariaDB it generates a database of md5 text, or with --data realistic
of mixed columns whose strings hold quotes, commas, parentheses, backslashes and newlines,
with NULLs and binary (about --pg-mb and --mysql-mb megabytes of dump), then measures,
with the very argv and environment our engines give the dump tool (so the same pg_dump
binary):

    dump > /dev/null                 the dump tool alone
    dump | zstd -3 -T2 > /dev/null   the shell pipeline (processes chained without a shell)
    run_backup → Azurite             ours: zstd + SHA-256 + staged blocks + commit
    run_backup → discard             ours again, the blocks dropped in-process instead of
                                     uploaded: what the pipeline costs without Azurite, which
                                     otherwise shares the machine's cores with it (on Azure
                                     the storage service runs elsewhere)
    dump | zstd -3 -T2 | upload      what a user would script instead (PostgreSQL): the
                                     upload a child process streaming its stdin to Azurite
                                     with the storage SDK (BlobClient.upload_blob(stdin),
                                     its default concurrency)

Ours runs in a child process so that its peak RSS (VmHWM) is its own; it is measured at
the full size and at a tenth of it. Rounds are interleaved and each timing is the best of
--repeat rounds. Every child's clock starts once its imports are loaded: the SDK for the
scripted upload, the pipeline and its libraries (numpy, which a worker loads with its
first backup) for ours, so each run measures a worker past its first job.

Every run that uploads (ours, encrypted or not, and the scripted upload) goes into an
in-memory Azurite of its own, started for it on a free port and stopped afterwards
(fresh_azurite), so that no contender uploads into an emulator still holding the last
one's blobs; the restore rounds share one. BENCH_STORAGE_CONNECTION_STRING names other
storage instead.

Restore (PostgreSQL): one backup of the full-size database is made with run_backup into
Azurite and also downloaded to a local dump.zst; then, in interleaved rounds, each into an
empty scratch database of its own (created before the clock starts, after a CHECKPOINT
and a sync, dropped after):

    restore_backup ← Azurite         ours: the function the restore activity calls (range
                                     download ahead, SHA-256, zstd, psql, then the
                                     comparison with the manifest), in a child process
    zstd -dc dump.zst | psql         the baseline, psql with our argv and environment
    restore_backup ← local file      ours again, the blob read from dump.zst instead of
                                     Azurite (which otherwise shares the cores with it)

With --latency-ms N (PostgreSQL), ours and the scripted upload are timed again, each into
an Azurite of its own behind a proxy that holds back every answer N ms (latency_proxy):
each request's round trip takes N ms longer, as on a network, where the scripted upload
waits for each of its blocks in turn and ours keeps several in flight. Loopback has no
bandwidth limit and this kernel no netem, so this models the round trips only;
pg_ratio_vs_upload_at_latency = ours / the scripted upload's wall time, for information.

Encryption: pg_encrypt_overhead = our encrypted backup's wall time / our unencrypted one's,
into Azurite, same run, same database, interleaved rounds, best of each (target <= 1.10);
pg_encrypted_peak_rss_mb is the encrypted backup's peak RSS (target <= 200 MB).

What the database server read for each run is measured too: for PostgreSQL the blocks read
or hit in the bench database (pg_stat_database blks_read + blks_hit, read once every
session of the run has ended, which is when a session reports its statistics), for
MySQL the rows InnoDB read (global Innodb_rows_read; MariaDB 10.11 has only Rows_read, the
rows read by every engine), server-wide: other sessions add noise, so the fewest of the
rounds counts. The baselines are a plain pg_dump and a plain
`mariadb-dump --single-transaction --quick` of the same database.

A table is printed, then one JSON line (last) with pg_ratio, mysql_ratio (our wall into
Azurite / shell pipeline's), pg_peak_rss_mb, mysql_peak_rss_mb and rss_growth (peak at
full size / at a tenth, the larger of the two engines), pg_server_read_ratio and
mysql_server_read_ratio (what the server read for our backup / for the plain dump),
pg_count_cpu_seconds and mysql_count_cpu_seconds (the CPU time our run spent counting rows
in the dump stream), pg_count_mb_per_s and mysql_count_mb_per_s (dump MB per CPU second of
that counting), and, for information, pg_ratio_discard and mysql_ratio_discard (our
wall with the blocks dropped / shell pipeline's); for PostgreSQL pg_ratio_vs_upload (our
wall into Azurite / the scripted upload's, target <= 1.0; pg_cpu_vs_upload, for
information, the same for the processes' CPU time, Azurite's not included: robust to load
from elsewhere, which the wall time is not; pg_upload_ratio, for information, the scripted
upload's wall / the shell pipeline's: what any client pays for Azurite sharing the
cores, to read pg_ratio against), pg_restore_ratio (our restore
from Azurite / zstd -dc | psql, target <= 1.25), pg_restore_peak_rss_mb and, for
information, pg_restore_ratio_local (our restore from the local file / zstd -dc | psql);
pg_ratio_floor and mysql_ratio_floor, for information: the lowest ratio any uploader into
this Azurite could reach on this machine, (CPU time of the shell pipeline's processes and
the database server during it + Azurite's during ours) / cores / the shell pipeline's
wall, the fewest of the rounds: an uploader that cost nothing beyond the shell pipeline
and Azurite, with every core always busy, would still take that long.
--mysql-mb 0 measures PostgreSQL only.

Databases are named by size (bench_pg_<mb>, bench_my_<mb>, plus --tag) and reused when a
previous run left them complete (--keep); otherwise they are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg  # noqa: E402
import pymysql  # noqa: E402

from shared.engines.base import ConnectionSpec  # noqa: E402
from shared.engines.registry import engine_for  # noqa: E402
from shared.models import Engine, TlsMode  # noqa: E402

AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# One generated row: an id and three md5 strings, about 110 bytes in either dump.
ROW_BYTES = 110
# --data realistic: mixed columns (numbers, a decimal, strings with quotes, commas,
# parentheses, backslashes and newlines, NULLs, a timestamp, 16 bytes of binary), about
# 160 bytes a row in either dump. What the row counter must parse, unlike md5 text.
REALISTIC_ROW_BYTES = 160
DATA_KINDS = ("md5", "realistic")
CONTAINER = "bench-pipeline"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def storage_connection_string() -> str:
    explicit = os.environ.get("BENCH_STORAGE_CONNECTION_STRING")
    if explicit:
        return explicit
    # Through the latency proxy when one stands in front of Azurite (fresh_azurite).
    port = os.environ.get("BENCH_PROXY_PORT") or os.environ.get("AZURITE_BLOB_PORT", "10100")
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


def spec_for(engine: Engine, database: str) -> ConnectionSpec:
    if engine is Engine.POSTGRESQL:
        return ConnectionSpec(
            engine=engine, host="127.0.0.1", port=5432, username="postgres", database=database,
            tls_mode=TlsMode.DISABLE,
        )  # fmt: skip
    return ConnectionSpec(
        engine=engine, host="127.0.0.1", port=3306, username="root", database=database,
        tls_mode=TlsMode.DISABLE,
    )  # fmt: skip


# --- data generation -------------------------------------------------------------------


def ensure_postgres(name: str, megabytes: int, data: str = "md5") -> bool:
    """Creates the database unless a complete one exists; True if it was created now."""
    rows = megabytes * 1_000_000 // (REALISTIC_ROW_BYTES if data == "realistic" else ROW_BYTES)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            if _postgres_complete(name, rows):
                return False
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
        # Unlogged and without an index: generated fast; pg_dump reads it like any table.
        if data == "realistic":
            conn.execute(
                "CREATE UNLOGGED TABLE data (id bigint, n int, price numeric(12,2), name text,"
                " note text, flag boolean, created timestamptz, bin bytea)"
            )
            conn.execute(
                "INSERT INTO data SELECT i, (i * 37) %% 1000, i * 1.25,"
                " 'O''Brien, (x) ' || to_hex(i),"
                " CASE WHEN i %% 7 = 0 THEN NULL ELSE E'line1\\npath C:\\\\dir\\\\' || i"
                " || ' \"quoted\", (paren); semi),(x' END,"
                " i %% 2 = 0, timestamptz '2024-01-01' + i * interval '1 second',"
                " decode(md5(i::text), 'hex') FROM generate_series(1, %s) i",
                (rows,),
            )
        else:
            conn.execute("CREATE UNLOGGED TABLE data (id bigint, a text, b text, c text)")
            conn.execute(
                "INSERT INTO data SELECT i, md5(i::text), md5((i * 2)::text),"
                " md5((i * 3)::text) FROM generate_series(1, %s) i",
                (rows,),
            )
        conn.execute("CREATE TABLE bench_complete (rows bigint)")
        conn.execute("INSERT INTO bench_complete VALUES (%s)", (rows,))
    return True


def _postgres_complete(name: str, rows: int) -> bool:
    try:
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
            found = conn.execute("SELECT rows FROM bench_complete").fetchone()
    except psycopg.Error:
        return False
    return bool(found and found[0] == rows)


def drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql() -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


def ensure_mariadb(name: str, megabytes: int, data: str = "md5") -> bool:
    rows = megabytes * 1_000_000 // (REALISTIC_ROW_BYTES if data == "realistic" else ROW_BYTES)
    conn = _mysql()
    try:
        with conn.cursor() as cursor:
            if _mariadb_complete(cursor, name, rows):
                return False
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute(f"USE `{name}`")  # the seq_1_to_N tables need a current database
            if data == "realistic":
                cursor.execute(
                    f"CREATE TABLE `{name}`.data (id BIGINT PRIMARY KEY, n INT,"
                    " price DECIMAL(12,2), name VARCHAR(64), note VARCHAR(200), flag TINYINT,"
                    " created DATETIME, bin VARBINARY(16)) ENGINE=InnoDB"
                )
            else:
                cursor.execute(
                    f"CREATE TABLE `{name}`.data (id BIGINT PRIMARY KEY, a CHAR(32),"
                    " b CHAR(32), c CHAR(32)) ENGINE=InnoDB"
                )
            for start in range(0, rows, 500_000):
                count = min(500_000, rows - start)
                i = f"(seq + {start})"
                values = (
                    f"{i}, MD5({i}), MD5(2 * {i}), MD5(3 * {i})"
                    if data != "realistic"
                    else f"{i}, ({i} * 37) % 1000, {i} * 1.25, CONCAT('O''Brien, (x) ', HEX({i})),"
                    f" IF({i} % 7 = 0, NULL, CONCAT('line1\\npath C:\\\\dir\\\\', {i},"
                    " ' \"quoted\", (paren); semi),(x')), "
                    f"{i} % 2, '2024-01-01' + INTERVAL {i} SECOND, UNHEX(MD5({i}))"
                )
                cursor.execute(f"INSERT INTO `{name}`.data SELECT {values} FROM seq_1_to_{count}")
            cursor.execute(f"CREATE TABLE `{name}`.bench_complete (`rows` BIGINT)")
            cursor.execute(f"INSERT INTO `{name}`.bench_complete VALUES ({rows})")
    finally:
        conn.close()
    return True


def _mariadb_complete(cursor: pymysql.cursors.Cursor, name: str, rows: int) -> bool:
    try:
        cursor.execute(f"SELECT `rows` FROM `{name}`.bench_complete")
    except pymysql.err.MySQLError:
        return False
    found = cursor.fetchone()
    return bool(found and found[0] == rows)


def drop_mariadb(name: str) -> None:
    conn = _mysql()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


# --- measurements ----------------------------------------------------------------------


@contextmanager
def dump_command(engine: Engine, database: str) -> Iterator[tuple[list[str], dict[str, str]]]:
    """The argv and full environment our engine gives the dump tool."""
    with tempfile.TemporaryDirectory() as workdir:
        engine_object = engine_for(engine)
        with engine_object.dump_command(spec_for(engine, database), Path(workdir)) as command:
            yield command.argv, command.process_env()


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def dump_alone(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)


def plain_dump_argv(engine: Engine, argv: list[str], database: str) -> list[str]:
    """The baseline of the server's reads: a plain pg_dump (ours without --snapshot is
    that), or a plain `mariadb-dump --single-transaction --quick` with our option file."""
    if engine is Engine.POSTGRESQL:
        return argv
    return [argv[0], argv[1], "--single-transaction", "--quick", "--", database]


@contextmanager
def _sessions_ended(database: str) -> Iterator[psycopg.Connection]:
    """An admin connection, once no session is left in `database` (up to 10 s)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for _ in range(200):
            active = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            if not conn.execute(active, (database,)).fetchone()[0]:
                break
            time.sleep(0.05)
        yield conn


def server_reads(engine: Engine, database: str) -> int:
    """What the server has read so far: PostgreSQL's blocks read or hit in `database`,
    once no session is left in it (a session reports its statistics as it ends);
    MySQL's rows read by InnoDB (MariaDB's by any engine), server-wide."""
    if engine is Engine.POSTGRESQL:
        with _sessions_ended(database) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            blocks = conn.execute(
                "SELECT blks_read + blks_hit FROM pg_stat_database WHERE datname = %s",
                (database,),
            ).fetchone()[0]
        return int(blocks)
    conn = _mysql()
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_rows_read', 'Rows_read')"
            )
            found = dict(cursor.fetchall())
    finally:
        conn.close()
    # MariaDB 10.11 has no Innodb_rows_read; its Rows_read counts every engine's rows.
    return int(found.get("Innodb_rows_read", found.get("Rows_read", 0)))


def reads_of(engine: Engine, database: str, run: Callable[[], object]) -> int:
    before = server_reads(engine, database)
    run()
    return server_reads(engine, database) - before


def server_cpu_seconds(engine: Engine) -> float:
    """CPU time the database server has spent so far: every postgres process's own and its
    reaped children's (the postmaster's children are the backends that ended), or
    mariadbd's (one process, all its threads)."""
    names = ("postgres",) if engine is Engine.POSTGRESQL else ("mariadbd", "mysqld")
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if not (process.info["name"] or "").startswith(names):
            continue
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def shell_round(
    engine: Engine, database: str, argv: list[str], env: dict[str, str]
) -> tuple[float, float]:
    """One round of the shell pipeline: its wall time, and the CPU time it took from the
    machine (its two processes' and the database server's, counted once pg_dump's
    session has ended and the postmaster has reaped it)."""
    cpu_before = _children_cpu_seconds() + server_cpu_seconds(engine)
    seconds = timed(lambda: shell_pipeline(argv, env))
    if engine is Engine.POSTGRESQL:
        with _sessions_ended(database):
            time.sleep(0.2)
    return seconds, _children_cpu_seconds() + server_cpu_seconds(engine) - cpu_before


def shell_pipeline(argv: list[str], env: dict[str, str]) -> None:
    """`dump | zstd -3 -T2 > /dev/null`, chained like a shell does it."""
    dump = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)
    zstd = subprocess.Popen(
        ["zstd", "-3", "-T2", "-q", "-c"], stdin=dump.stdout, stdout=subprocess.DEVNULL
    )
    assert dump.stdout is not None
    dump.stdout.close()
    if zstd.wait() != 0 or dump.wait() != 0:
        raise RuntimeError("the shell pipeline failed")


@dataclass
class Ours:
    seconds: float
    peak_rss_mb: float
    raw_bytes: int
    stored_bytes: int
    row_count_cpu_seconds: float
    azurite_cpu_seconds: float = 0.0
    server_reads: int = 0
    cpu_seconds: float = 0.0  # the child's and its dump tool's (Azurite's not included)


def ours(engine: Engine, database: str, target: str = "azurite", latency_ms: int = 0) -> Ours:
    """run_backup in a child process, into an Azurite of its own unless `target` is
    "discard"; its own wall time and peak RSS, the CPU time Azurite spent meanwhile (it
    shares the machine's cores with the pipeline), and what the database server read for
    it. With `latency_ms`, Azurite answers through latency_proxy."""
    reads_before = server_reads(engine, database)
    children_before = _children_cpu_seconds()
    with nullcontext() if target == "discard" else fresh_azurite(latency_ms):
        azurite = azurite_process()
        before = _cpu_seconds(azurite)
        child = subprocess.run(
            [sys.executable, __file__, "child", engine.value, database, target],
            capture_output=True,
            text=True,
            check=False,
        )
        azurite_seconds = _cpu_seconds(azurite) - before
        # Read while Azurite (a child too) runs: once it has ended, its CPU counts here.
        cpu_seconds = _children_cpu_seconds() - children_before
    if child.returncode != 0:
        raise RuntimeError(f"our pipeline failed: {child.stderr.strip()[-2000:]}")
    result = Ours(**json.loads(child.stdout.strip().splitlines()[-1]))
    result.azurite_cpu_seconds = azurite_seconds
    result.cpu_seconds = cpu_seconds
    result.server_reads = server_reads(engine, database) - reads_before
    return result


@contextmanager
def fresh_azurite(latency_ms: int = 0) -> Iterator[None]:
    """A blob-only Azurite of this run's own, in memory, on a free port, with the bench's
    container, stopped afterwards (unless BENCH_STORAGE_CONNECTION_STRING names the
    storage). Azurite frees a deleted blob's memory only at its periodic garbage
    collection: a shared one held 7 GB after one bench run, and reading the same 508 MB
    from it then cost it from 0.5 to 3.3 s of CPU; uploading 508 MB into one cost it
    2.5 s when it was fresh and up to 3.9 s after three such uploads, on the cores the
    contenders share. Whoever uploaded first in a round was favoured. With `latency_ms`,
    clients reach it through a proxy that holds back its answers that long (latency_proxy)."""
    if os.environ.get("BENCH_STORAGE_CONNECTION_STRING"):
        _create_container()
        yield
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The development account and key (AZURITE_KEY), whatever `make run` configured.
    env = {k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"}
    process = subprocess.Popen(
        [
            str(ROOT / "node_modules" / ".bin" / "azurite-blob"), "--silent",
            "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--inMemoryPersistence",
            "--blobHost", "127.0.0.1", "--blobPort", str(port),
        ],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    previous = os.environ.get("AZURITE_BLOB_PORT")
    os.environ["AZURITE_BLOB_PORT"] = str(port)  # read by this process and its children
    try:
        deadline = time.monotonic() + 30
        while azurite_process() is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not start on port {port}")
            time.sleep(0.2)
        _create_container()
        with latency_proxy(port, latency_ms) if latency_ms else nullcontext():
            yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        if previous is None:
            os.environ.pop("AZURITE_BLOB_PORT", None)
        else:
            os.environ["AZURITE_BLOB_PORT"] = previous


@contextmanager
def latency_proxy(target_port: int, latency_ms: int) -> Iterator[None]:
    """A proxy in front of Azurite (child-proxy) for the clients this process starts."""
    proxy = subprocess.Popen(
        [sys.executable, __file__, "child-proxy", str(target_port), str(latency_ms)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proxy.stdout is not None
    try:
        port = proxy.stdout.readline().strip()
        if not port.isdigit():
            # Without this, clients would fall back to Azurite itself, with no latency.
            raise RuntimeError("the latency proxy did not start")
        os.environ["BENCH_PROXY_PORT"] = port
        yield
    finally:
        os.environ.pop("BENCH_PROXY_PORT", None)
        proxy.terminate()
        proxy.wait(timeout=30)


def child_proxy_main(target_port: str, latency_ms: str) -> None:
    """Forwards connections to 127.0.0.1:target_port, and holds back every byte that comes
    back for latency_ms: each request's round trip takes that much longer, as across a
    network (without its bandwidth limit; the kernel of these machines has no netem to add
    delay to loopback). Prints the port it listens on."""
    import asyncio

    delay = int(latency_ms) / 1000

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 20):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def forward_late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while (item := await queue.get())[1]:
                await asyncio.sleep(item[0] - loop.time())
                writer.write(item[1])
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(send())
        while data := await reader.read(1 << 20):
            queue.put_nowait((loop.time() + delay, data))
        queue.put_nowait((0.0, b""))
        await sender

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", int(target_port)
        )
        await asyncio.gather(
            forward(reader, upstream_writer), forward_late(upstream_reader, writer),
            return_exceptions=True,
        )  # fmt: skip

    async def serve() -> None:
        server = await asyncio.start_server(connect, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


def _create_container() -> None:
    from shared.storage.blobs import AzureBlobStore

    AzureBlobStore.from_connection_string(storage_connection_string(), CONTAINER).create_container()


def azurite_process() -> psutil.Process | None:
    port = int(os.environ.get("AZURITE_BLOB_PORT", "10100"))
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


def _children_cpu_seconds() -> float:
    """CPU time of this process's children that have ended and been waited for (and of
    theirs): a child's whole run, its dump tool included, once it has exited."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


class DiscardingStore:
    """The two calls run_backup makes, with the blocks dropped: the pipeline without Azurite."""

    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        pass

    def commit_blocks(self, name: str, block_ids: list[str], **labels: object) -> None:
        pass

    def delete(self, name: str) -> None:
        pass


def child_main(engine_name: str, database: str, target: str) -> None:
    """Runs one backup into Azurite (or the discarding store) and prints its wall time and
    this process's VmHWM."""
    import shared.pipeline.dump  # noqa: F401
    from shared.pipeline.row_counts import row_counter_for
    from shared.storage.blobs import AzureBlobStore

    engine = Engine(engine_name)
    # A worker loads the pipeline's modules and libraries (numpy, for the row counts) with its
    # first backup and keeps them; loading them before the clock measures every run as a
    # worker's steady state, as the restore child and the scripted upload's child are measured.
    row_counter_for(engine)
    store: Any = DiscardingStore()
    encryption = bench_encryption() if target == ENCRYPTED else None
    if target in ("azurite", ENCRYPTED):
        store = AzureBlobStore.from_connection_string(storage_connection_string(), CONTAINER)
    name = f"bench/{database}/{uuid.uuid4().hex}.sql.zst"
    started = time.perf_counter()
    outcome = bench_backup(engine, database, store, name, encryption)
    seconds = time.perf_counter() - started
    store.delete(name)  # Azurite keeps blobs in memory
    result = {
        "seconds": seconds,
        "peak_rss_mb": _vm_hwm_kib() / 1024,
        "raw_bytes": outcome.raw_bytes,
        "stored_bytes": outcome.stored_bytes,
        "row_count_cpu_seconds": outcome.row_count_cpu_seconds,
    }
    print(json.dumps(result))


def bench_backup(
    engine: Engine, database: str, store: Any, name: str, encryption: Any = None
) -> Any:
    """run_backup of `database` into `name`, with the pipeline's default options."""
    from shared.pipeline.dump import run_backup
    from shared.pipeline.results import PipelineOptions

    return run_backup(
        engine_for(engine),
        spec_for(engine, database),
        store,
        record_id="bench",
        server_id="bench",
        database_id="bench",
        blob_name=name,
        options=PipelineOptions(),
        encryption=encryption,
    )


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


# --- encryption overhead -----------------------------------------------------------------

ENCRYPTED = "azurite+age"


def bench_encryption() -> Any:
    """Encryption to a fresh identity plus one extra recipient, as a backup with a
    break-glass key has (the second recipient only adds a header stanza)."""
    from shared.crypto.age import generate_identity
    from shared.pipeline.encrypt import encryption_to

    service, extra = generate_identity(), generate_identity()
    return encryption_to("bench", service[1], [extra[1]])


@dataclass
class EncryptOverhead:
    plain: Ours
    encrypted: Ours

    @property
    def ratio(self) -> float:
        return self.encrypted.seconds / self.plain.seconds


def measure_encrypt_overhead(engine: Engine, database: str, repeat: int) -> EncryptOverhead:
    """Our backup into Azurite unencrypted and encrypted, interleaved, best of each."""
    plain, encrypted = [], []
    for _ in range(repeat):
        plain.append(ours(engine, database))
        encrypted.append(ours(engine, database, target=ENCRYPTED))
    best = min(plain, key=lambda o: o.seconds), min(encrypted, key=lambda o: o.seconds)
    print(
        f"  encryption: plain {best[0].seconds:.2f}s, age {best[1].seconds:.2f}s "
        f"(stored {best[0].stored_bytes / 1e6:.0f} / {best[1].stored_bytes / 1e6:.0f} MB, "
        f"peak {best[1].peak_rss_mb:.0f} MB)",
        flush=True,
    )
    return EncryptOverhead(*best)


# --- what a user would script instead: dump | zstd | upload_blob(stdin) ----------------


def naive_upload(argv: list[str], env: dict[str, str], latency_ms: int = 0) -> tuple[float, float]:
    """`dump | zstd -3 -T2 | upload`, the upload a child process streaming its stdin to
    Azurite with the storage SDK (`BlobClient.upload_blob(stdin)`, its default concurrency).
    The clock starts once the child has imported the SDK and built its client (ours is
    timed from a like point: its imports done) and stops when upload_blob has returned.
    Returns the wall time and the CPU time of the three processes (the child's start and
    imports included). Into an Azurite of its own, as ours."""
    with fresh_azurite(latency_ms):
        return _scripted_upload(argv, env)


def _scripted_upload(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    name = f"bench/naive/{uuid.uuid4().hex}.sql.zst"
    cpu_before = _children_cpu_seconds()
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, __file__, "child-upload", name],
        stdin=read_end,
        stdout=subprocess.PIPE,
        text=True,
    )
    os.close(read_end)
    assert child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the upload script did not start")
        started = time.perf_counter()
        dump = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)
        zstd = subprocess.Popen(
            ["zstd", "-3", "-T2", "-q", "-c"], stdin=dump.stdout, stdout=write_end
        )
        os.close(write_end)
        write_end = -1
        assert dump.stdout is not None
        dump.stdout.close()
        done = child.stdout.readline().strip()
        seconds = time.perf_counter() - started
        if done != "done" or zstd.wait() != 0 or dump.wait() != 0 or child.wait() != 0:
            raise RuntimeError("the scripted upload failed")
    finally:
        if write_end >= 0:
            os.close(write_end)
        child.kill()
        child.wait()
        _delete_blob(name)
    return seconds, _children_cpu_seconds() - cpu_before


def child_upload_main(name: str) -> None:
    """The upload a user would script: stdin to a blob, the SDK's defaults."""
    from azure.storage.blob import BlobClient

    client = BlobClient.from_connection_string(storage_connection_string(), CONTAINER, name)
    print("ready", flush=True)
    client.upload_blob(sys.stdin.buffer)
    print("done", flush=True)


def _delete_blob(name: str) -> None:
    from shared.storage.blobs import AzureBlobStore

    AzureBlobStore.from_connection_string(storage_connection_string(), CONTAINER).delete(name)


# --- restore: ours from Azurite / `zstd -dc dump.zst | psql` ----------------------------


@dataclass
class StoredBackup:
    """One backup kept in Azurite for the restore rounds, and its copy in a local file."""

    blob_name: str
    sha256: str
    manifest_path: Path
    local_path: Path


@dataclass
class RestoreResult:
    ours_seconds: float
    shell_seconds: float
    local_seconds: float  # ours reading the local file instead of Azurite
    peak_rss_mb: float
    raw_bytes: int
    stored_bytes: int
    azurite_cpu_seconds: float  # what the emulator spent serving our best run

    @property
    def ratio(self) -> float:
        return self.ours_seconds / self.shell_seconds

    @property
    def local_ratio(self) -> float:
        return self.local_seconds / self.shell_seconds


class LocalFileStore:
    """The one call restore_backup makes to the store, answered from a local file: our
    restore path without Azurite (which otherwise shares the machine's cores with it)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def read_chunks(self, name: str) -> Iterator[bytes]:
        with self._path.open("rb") as source:
            while chunk := source.read(4 * 1024 * 1024):
                yield chunk


@contextmanager
def stored_backup(engine: Engine, database: str) -> Iterator[StoredBackup]:
    """A backup of `database` through run_backup into Azurite (kept while the rounds run),
    and the same blob downloaded to a local file: the dump.zst of the baseline."""
    from shared.storage.blobs import AzureBlobStore

    store = AzureBlobStore.from_connection_string(storage_connection_string(), CONTAINER)
    name = f"bench/{database}/restore-{uuid.uuid4().hex}.sql.zst"
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as workdir:
        try:
            outcome = bench_backup(engine, database, store, name)
            manifest_path = Path(workdir) / "manifest.json"
            manifest_path.write_text(outcome.manifest.model_dump_json())
            local_path = Path(workdir) / "dump.sql.zst"
            with local_path.open("wb") as out:
                for chunk in store.read_chunks(name):
                    out.write(chunk)
            yield StoredBackup(name, outcome.sha256, manifest_path, local_path)
        finally:
            store.delete(name)


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """An empty database, dropped afterwards whatever happens. Before it is handed out,
    the server's dirty buffers are written (CHECKPOINT) and the kernel's (sync): a restore
    writes about a GB, and without this the next round, whichever contender it is, pays
    for writing back the last one's (rounds then varied by 0.7-1.4x)."""
    drop_postgres(name)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute("CHECKPOINT")
    os.sync()
    try:
        yield name
    finally:
        drop_postgres(name)


def our_restore(backup: StoredBackup, database: str, local: bool = False) -> dict[str, Any]:
    """restore_backup (what the restore activity calls) in a child process: its wall time,
    peak RSS, what it restored and what Azurite spent meanwhile. `local`: the blob is read
    from the local file instead of Azurite."""
    azurite = azurite_process()
    before = _cpu_seconds(azurite)
    source = str(backup.local_path) if local else "azurite"
    child = subprocess.run(
        [
            sys.executable, __file__, "child-restore", backup.blob_name, backup.sha256,
            str(backup.manifest_path), database, source,
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if child.returncode != 0:
        raise RuntimeError(f"our restore failed: {child.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    result["azurite_cpu_seconds"] = _cpu_seconds(azurite) - before
    return result


def child_restore_main(
    blob_name: str, sha256: str, manifest_path: str, database: str, source: str
) -> None:
    from shared.models import DumpManifest
    from shared.pipeline.restore import restore_backup
    from shared.storage.blobs import AzureBlobStore

    store: Any = AzureBlobStore.from_connection_string(storage_connection_string(), CONTAINER)
    if source != "azurite":
        store = LocalFileStore(Path(source))
    manifest = DumpManifest.model_validate_json(Path(manifest_path).read_text())
    started = time.perf_counter()
    outcome = restore_backup(
        engine_for(Engine.POSTGRESQL),
        spec_for(Engine.POSTGRESQL, database),
        store,
        blob_name,
        sha256,
        manifest=manifest,
    )
    seconds = time.perf_counter() - started
    if outcome.differences:
        raise RuntimeError(f"the restore differs from the manifest: {outcome.differences}")
    result = {
        "seconds": seconds,
        "peak_rss_mb": _vm_hwm_kib() / 1024,
        "raw_bytes": outcome.raw_bytes,
        "stored_bytes": outcome.stored_bytes,
    }
    print(json.dumps(result))


def shell_restore(local_path: Path, database: str) -> float:
    """`zstd -dc dump.zst | psql`, psql with the argv and environment our engine gives it
    (one transaction, stop at the first error)."""
    with tempfile.TemporaryDirectory() as workdir:
        engine = engine_for(Engine.POSTGRESQL)
        spec = spec_for(Engine.POSTGRESQL, database)
        with engine.restore_command(spec, Path(workdir)) as command:
            # command.drop_header_lines (pg_dump 17+'s transaction_timeout for an older
            # target) is not applied: a dump holding such a line fails here, loudly.
            started = time.perf_counter()
            zstd = subprocess.Popen(["zstd", "-dc", "-q", str(local_path)], stdout=subprocess.PIPE)
            psql = subprocess.Popen(
                command.argv, env=command.process_env(), stdin=zstd.stdout,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            assert zstd.stdout is not None
            zstd.stdout.close()
            if psql.wait() != 0 or zstd.wait() != 0:
                raise RuntimeError("the shell restore failed")
            return time.perf_counter() - started


def measure_restore(database: str, repeat: int, tag: str) -> RestoreResult:
    """Ours and the baseline, each into its own empty scratch database, interleaved
    rounds, best of each."""
    ours_runs: list[dict[str, Any]] = []
    locals_: list[float] = []
    shells: list[float] = []
    with stored_backup(Engine.POSTGRESQL, database) as backup:
        for _ in range(repeat):
            with scratch_database(f"bench_restore_ours{tag}") as scratch:
                ours_runs.append(our_restore(backup, scratch))
            with scratch_database(f"bench_restore_shell{tag}") as scratch:
                shells.append(shell_restore(backup.local_path, scratch))
            with scratch_database(f"bench_restore_local{tag}") as scratch:
                locals_.append(our_restore(backup, scratch, local=True)["seconds"])
    best = min(ours_runs, key=lambda r: r["seconds"])
    result = RestoreResult(
        best["seconds"], min(shells), min(locals_), max(r["peak_rss_mb"] for r in ours_runs),
        best["raw_bytes"], best["stored_bytes"], best["azurite_cpu_seconds"],
    )  # fmt: skip
    print(
        f"  restore: ours {result.ours_seconds:.2f}s, zstd -dc | psql "
        f"{result.shell_seconds:.2f}s (ratio {result.ratio:.2f}; {result.raw_bytes / 1e6:.0f} "
        f"MB of dump, {result.stored_bytes / 1e6:.0f} MB stored, peak {result.peak_rss_mb:.0f} MB, "
        f"azurite cpu {result.azurite_cpu_seconds:.2f}s); ours from the local file "
        f"{result.local_seconds:.2f}s (ratio {result.local_ratio:.2f})",
        flush=True,
    )
    return result


# --- the run ---------------------------------------------------------------------------


@dataclass
class EngineResult:
    label: str
    dump_seconds: float
    shell_seconds: float
    ours: Ours
    tenth: Ours
    discard: Ours
    plain_reads: int  # what the server read for a plain dump (the fewest of the rounds)
    our_reads: int  # ... and for our backup
    upload_seconds: float | None = None  # `dump | zstd | upload_blob(stdin)` (PostgreSQL)
    upload_cpu_seconds: float | None = None  # ... its three processes' CPU time
    # The shell pipeline's CPU time with the server's, and Azurite's during ours (fewest).
    shell_cpu_seconds: float = 0.0
    azurite_cpu_seconds: float = 0.0

    @property
    def ratio_floor(self) -> float:
        """The ratio no uploader into this Azurite could beat on these cores: the shell
        pipeline's work plus Azurite's, spread perfectly over every core, against the shell
        pipeline's time; an uploader costing nothing more than that still needs it."""
        work = self.shell_cpu_seconds + self.azurite_cpu_seconds
        return work / (os.cpu_count() or 1) / self.shell_seconds

    @property
    def upload_ratio(self) -> float | None:
        return self.ours.seconds / self.upload_seconds if self.upload_seconds else None

    @property
    def upload_over_shell(self) -> float | None:
        """The scripted upload's time / the shell pipeline's (pg_upload_ratio)."""
        return self.upload_seconds / self.shell_seconds if self.upload_seconds else None

    @property
    def ratio(self) -> float:
        return self.ours.seconds / self.shell_seconds

    @property
    def discard_ratio(self) -> float:
        return self.discard.seconds / self.shell_seconds

    @property
    def rss_growth(self) -> float:
        return self.ours.peak_rss_mb / self.tenth.peak_rss_mb

    @property
    def read_ratio(self) -> float:
        return self.our_reads / self.plain_reads

    @property
    def count_mb_per_s(self) -> float:
        """The row counter's pace: MB of dump per CPU second it spent counting."""
        return self.ours.raw_bytes / 1e6 / max(self.ours.row_count_cpu_seconds, 1e-9)


def measure(engine: Engine, full: str, tenth: str, repeat: int) -> EngineResult:
    """Interleaved rounds (dump, its reads or a plain dump's, shell pipeline, ours,
    ours discarding, and for PostgreSQL the scripted upload), best of each: a burst of
    load from elsewhere then hurts every contender alike. The tenth-size run is for RSS only."""
    dumps, plain_reads, runs, discards = [], [], [], []
    shells: list[tuple[float, float]] = []
    uploads: list[tuple[float, float]] = []
    with dump_command(engine, full) as (argv, env):
        print(f"  {Path(argv[0]).name}: {argv[0]}", flush=True)
        plain = plain_dump_argv(engine, argv, full)
        for _ in range(repeat):
            before = server_reads(engine, full)
            dumps.append(timed(lambda: dump_alone(argv, env)))
            if plain is argv:
                plain_reads.append(server_reads(engine, full) - before)
            else:
                plain_reads.append(reads_of(engine, full, lambda: dump_alone(plain, env)))
            shells.append(shell_round(engine, full, argv, env))
            runs.append(ours(engine, full))
            discards.append(ours(engine, full, target="discard"))
            if engine is Engine.POSTGRESQL:
                uploads.append(naive_upload(argv, env))
    return EngineResult(
        engine.value,
        min(dumps),
        min(seconds for seconds, _ in shells),
        ours=min(runs, key=lambda o: o.seconds),
        tenth=ours(engine, tenth),
        discard=min(discards, key=lambda o: o.seconds),
        plain_reads=min(plain_reads),
        our_reads=min(o.server_reads for o in [*runs, *discards]),
        upload_seconds=min(uploads)[0] if uploads else None,
        upload_cpu_seconds=min(uploads)[1] if uploads else None,
        shell_cpu_seconds=min(cpu for _, cpu in shells),
        azurite_cpu_seconds=min(o.azurite_cpu_seconds for o in runs),
    )


def measure_upload_at_latency(database: str, repeat: int, latency_ms: int) -> tuple[float, float]:
    """Ours and the scripted upload with every request's answer held back latency_ms
    (latency_proxy), interleaved, best wall time of each: whether staging blocks
    concurrently pays where each request waits a round trip, as it does on Azure."""
    runs, uploads = [], []
    with dump_command(Engine.POSTGRESQL, database) as (argv, env):
        for _ in range(repeat):
            runs.append(ours(Engine.POSTGRESQL, database, latency_ms=latency_ms).seconds)
            uploads.append(naive_upload(argv, env, latency_ms)[0])
    return min(runs), min(uploads)


def print_table(results: list[EngineResult]) -> None:
    print(
        f"{'engine':<11}{'dump MB':>8}{'stored':>7}{'dump>null':>10}{'|zstd':>8}{'ours':>8}"
        f"{'ratio':>6}{'discard':>8}{'ratio':>6}{'count cpu':>10}{'MB/s':>6}{'azurite cpu':>12}"
        f"{'peak MB':>8}{'tenth':>6}{'growth':>7}{'plain reads':>12}{'our reads':>11}"
        f"{'ratio':>6}"
    )
    for r in results:
        print(
            f"{r.label:<11}{r.ours.raw_bytes / 1e6:>8.0f}{r.ours.stored_bytes / 1e6:>7.0f}"
            f"{r.dump_seconds:>9.2f}s{r.shell_seconds:>7.2f}s{r.ours.seconds:>7.2f}s"
            f"{r.ratio:>6.2f}{r.discard.seconds:>7.2f}s{r.discard_ratio:>6.2f}"
            f"{r.ours.row_count_cpu_seconds:>9.2f}s{r.count_mb_per_s:>6.0f}"
            f"{r.ours.azurite_cpu_seconds:>11.2f}s"
            f"{r.ours.peak_rss_mb:>8.0f}{r.tenth.peak_rss_mb:>6.0f}{r.rss_growth:>7.2f}"
            f"{r.plain_reads:>12}{r.our_reads:>11}{r.read_ratio:>6.3f}"
        )
    print(
        "ours = run_backup into Azurite; discard = the same with the blocks dropped "
        "in-process; count cpu = CPU time ours spent counting rows in the dump stream "
        "(MB/s: dump MB per CPU second of counting); "
        "azurite cpu = CPU time the emulator spent on the same cores during ours; reads = "
        "what the server read (PostgreSQL: blocks read or hit; MariaDB: rows) for a "
        "plain dump and for ours, the fewest of the rounds"
    )
    for r in results:
        print(
            f"{r.label}: the shell pipeline took {r.shell_cpu_seconds:.2f}s of CPU with the "
            f"server's, Azurite {r.azurite_cpu_seconds:.2f}s during ours: on "
            f"{os.cpu_count()} cores no uploader into it could beat a ratio of "
            f"{r.ratio_floor:.2f} (ratio_floor)"
        )


def print_upload_and_restore(results: list[EngineResult], restore: RestoreResult | None) -> None:
    """PostgreSQL: ours against the upload a user would script, and the restore."""
    for r in results:
        if r.upload_seconds is not None and r.upload_ratio is not None:
            print(
                f"{r.label}: backup into Azurite ours {r.ours.seconds:.2f}s "
                f"(cpu {r.ours.cpu_seconds:.2f}s), dump | zstd -3 -T2 | upload_blob(stdin) "
                f"{r.upload_seconds:.2f}s (cpu {r.upload_cpu_seconds or 0:.2f}s), "
                f"pg_ratio_vs_upload {r.upload_ratio:.2f}; cpu = the processes' own, "
                "Azurite's not included; the scripted upload takes "
                f"{r.upload_over_shell:.2f}x the shell pipeline's time "
                "(pg_upload_ratio: what uploading into this Azurite costs any client)"
            )
    if restore is not None:
        print(
            f"postgresql: restore from Azurite ours {restore.ours_seconds:.2f}s "
            f"(peak {restore.peak_rss_mb:.0f} MB, azurite cpu "
            f"{restore.azurite_cpu_seconds:.2f}s), zstd -dc dump.zst | psql "
            f"{restore.shell_seconds:.2f}s, pg_restore_ratio {restore.ratio:.2f}; ours from "
            f"the local file {restore.local_seconds:.2f}s, pg_restore_ratio_local "
            f"{restore.local_ratio:.2f}"
        )


def run(args: argparse.Namespace) -> None:
    plans = [
        (Engine.POSTGRESQL, "bench_pg", args.pg_mb, ensure_postgres, drop_postgres),
        (Engine.MARIADB, "bench_my", args.mysql_mb, ensure_mariadb, drop_mariadb),
    ]
    results: list[EngineResult] = []
    overhead: EncryptOverhead | None = None
    restore: RestoreResult | None = None
    at_latency: tuple[float, float] | None = None
    tag = f"_{args.tag}" if args.tag else ""
    tag += "_r" if args.data == "realistic" else ""
    for engine, prefix, megabytes, ensure, drop in plans:
        if megabytes <= 0:  # --mysql-mb 0: PostgreSQL only
            continue
        full = f"{prefix}_{megabytes}{tag}"
        tenth = f"{prefix}_{max(1, megabytes // 10)}{tag}"
        print(f"{engine.value}: preparing {full} and {tenth}", flush=True)
        started = time.perf_counter()
        for name, size in ((full, megabytes), (tenth, max(1, megabytes // 10))):
            created = ensure(name, size, args.data)
            print(f"  {name}: {'generated' if created else 'reused'}", flush=True)
        print(f"  ready in {time.perf_counter() - started:.1f}s; measuring", flush=True)
        try:
            # Every upload into an Azurite of its own, the restore rounds into one.
            results.append(measure(engine, full, tenth, args.repeat))
            if engine is Engine.POSTGRESQL:
                overhead = measure_encrypt_overhead(engine, full, args.repeat)
                with fresh_azurite():
                    restore = measure_restore(full, args.repeat, tag)
                if args.latency_ms:
                    at_latency = measure_upload_at_latency(full, args.repeat, args.latency_ms)
        finally:
            if not args.keep:
                drop(full)
                drop(tenth)
    print_table(results)
    print_upload_and_restore(results, restore)
    if at_latency is not None:
        print(
            f"postgresql: backup with answers {args.latency_ms} ms late: ours "
            f"{at_latency[0]:.2f}s, the scripted upload {at_latency[1]:.2f}s, "
            f"pg_ratio_vs_upload_at_latency {at_latency[0] / at_latency[1]:.2f}"
        )
    summary: dict[str, float] = {}
    for r in results:
        key = "pg" if r.label == Engine.POSTGRESQL.value else "mysql"
        summary[f"{key}_ratio"] = round(r.ratio, 3)
        summary[f"{key}_peak_rss_mb"] = round(r.ours.peak_rss_mb, 1)
    summary["rss_growth"] = round(max(r.rss_growth for r in results), 3)
    for r in results:
        key = "pg" if r.label == Engine.POSTGRESQL.value else "mysql"
        summary[f"{key}_server_read_ratio"] = round(r.read_ratio, 4)
        summary[f"{key}_count_cpu_seconds"] = round(r.ours.row_count_cpu_seconds, 3)
        summary[f"{key}_count_mb_per_s"] = round(r.count_mb_per_s)
        summary[f"{key}_ratio_discard"] = round(r.discard_ratio, 3)
        summary[f"{key}_ratio_floor"] = round(r.ratio_floor, 3)
    if overhead is not None:
        summary["pg_encrypt_overhead"] = round(overhead.ratio, 3)
        summary["pg_encrypted_peak_rss_mb"] = round(overhead.encrypted.peak_rss_mb, 1)
    pg = next((r for r in results if r.upload_ratio is not None), None)
    if pg is not None and pg.upload_ratio is not None:
        summary["pg_ratio_vs_upload"] = round(pg.upload_ratio, 3)
        summary["pg_upload_ratio"] = round(pg.upload_over_shell or 0, 3)
        if pg.upload_cpu_seconds:
            summary["pg_cpu_vs_upload"] = round(pg.ours.cpu_seconds / pg.upload_cpu_seconds, 3)
    if restore is not None:
        summary["pg_restore_ratio"] = round(restore.ratio, 3)
        summary["pg_restore_peak_rss_mb"] = round(restore.peak_rss_mb, 1)
        summary["pg_restore_ratio_local"] = round(restore.local_ratio, 3)
    if at_latency is not None:
        summary["latency_ms"] = args.latency_ms
        summary["pg_ratio_vs_upload_at_latency"] = round(at_latency[0] / at_latency[1], 3)
    print(json.dumps(summary))


CHILDREN: dict[str, Callable[..., None]] = {
    "child": child_main,
    "child-upload": child_upload_main,
    "child-restore": child_restore_main,
    "child-proxy": child_proxy_main,
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-mb", type=int, default=1000, help="PostgreSQL dump size (MB)")
    parser.add_argument(
        "--mysql-mb", type=int, default=300, help="MariaDB dump size (MB); 0 skips MariaDB"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best)")
    parser.add_argument("--keep", action="store_true", help="keep the databases for reuse")
    parser.add_argument(
        "--latency-ms", type=int, default=0,
        help="also time both uploads with Azurite's answers this late (PostgreSQL)",
    )  # fmt: skip
    parser.add_argument("--tag", default="", help="suffix of the databases' names")
    parser.add_argument(
        "--data", choices=DATA_KINDS, default="md5", help="generated rows: md5 text or mixed"
    )
    args = parser.parse_args()
    if args.latency_ms < 0:
        parser.error("--latency-ms must be 0 (off) or more")
    if args.latency_ms and os.environ.get("BENCH_STORAGE_CONNECTION_STRING"):
        # The proxy stands in front of the bench's own Azurite only; timing other storage
        # without it while reporting a latency would be a figure nobody measured.
        parser.error(
            "--latency-ms needs the bench's own Azurite: unset BENCH_STORAGE_CONNECTION_STRING"
        )
    run(args)


if __name__ == "__main__":
    main()
