"""A stand-in client tool for pipeline tests.

dump mode: writes N bytes of compressible text to stdout, then an optional marker line,
some stderr, and exits with the given code. restore mode: reads stdin to the end and
writes its SHA-256 and length to a file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time


def dump(args: argparse.Namespace) -> int:
    # Half random hex, half repeated text: compresses about 2:1, like a real dump.
    line = b"INSERT INTO t VALUES (%d, '%s', 'some repeated row text');\n"
    out = sys.stdout.buffer
    written = 0
    row = 0
    while written < args.bytes:
        noise = os.urandom(8 * 2000).hex().encode()
        rows = (line % (row + i, noise[i * 16 : i * 16 + 16]) for i in range(2000))
        chunk = b"".join(rows)[: args.bytes - written]
        out.write(chunk)
        written += len(chunk)
        row += 2000
        if args.sleep_every:
            time.sleep(args.sleep_every)
    if args.marker:
        out.write(args.marker.encode() + b"\n")
    out.flush()
    sys.stderr.write(args.stderr)
    sys.stderr.flush()
    time.sleep(args.linger)
    return args.exit_code


def restore(args: argparse.Namespace) -> int:
    digest = hashlib.sha256()
    size = 0
    while chunk := sys.stdin.buffer.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    with open(args.report, "w", encoding="utf-8") as handle:
        handle.write(f"{digest.hexdigest()} {size}\n")
    sys.stderr.write(args.stderr)
    return args.exit_code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["dump", "restore"])
    parser.add_argument("--bytes", type=int, default=0)
    parser.add_argument("--marker", default="")
    parser.add_argument("--stderr", default="")
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--sleep-every", type=float, default=0.0)
    parser.add_argument("--linger", type=float, default=0.0)
    parser.add_argument("--report", default="")
    args = parser.parse_args()
    return dump(args) if args.mode == "dump" else restore(args)


if __name__ == "__main__":
    sys.exit(main())
