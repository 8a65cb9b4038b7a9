"""A child process for the multi-GB age test: `encrypt RECIPIENT` or `decrypt KEYFILE` from
stdin to stdout through shared.crypto.age, or `count` (bytes and SHA-256 of stdin). Prints
its result and its peak RSS (VmHWM, KiB) as one JSON line on stderr."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.crypto.age import decrypt_stream, encrypt_stream, identity_in_key_file  # noqa: E402


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main() -> None:
    action = sys.argv[1]
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    result: dict[str, object] = {}
    if action == "encrypt":
        encrypt_stream(stdin, stdout, [sys.argv[2]])
    elif action == "decrypt":
        decrypt_stream(stdin, stdout, [identity_in_key_file(Path(sys.argv[2]).read_text())])
    else:
        digest, count = hashlib.sha256(), 0
        while chunk := stdin.read(1 << 20):
            digest.update(chunk)
            count += len(chunk)
        result = {"bytes": count, "sha256": digest.hexdigest()}
    stdout.flush()
    print(json.dumps({**result, "peak_kib": _peak_kib()}), file=sys.stderr)


if __name__ == "__main__":
    main()
