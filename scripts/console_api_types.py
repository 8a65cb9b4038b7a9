"""Generates console/src/types/api.d.ts from the app's OpenAPI document (the one served at
/api/openapi.json) with openapi-typescript; `--check` only says whether it is up to date.

    .venv/bin/python scripts/console_api_types.py           # regenerate
    .venv/bin/python scripts/console_api_types.py --check   # exit 1 when stale
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "console"
TYPES = CONSOLE / "src" / "types" / "api.d.ts"
GENERATOR = CONSOLE / "node_modules" / ".bin" / "openapi-typescript"


def generate() -> str:
    sys.path.insert(0, str(ROOT))
    from http_api.openapi import openapi_document

    if not GENERATOR.exists():
        raise SystemExit("console/node_modules is missing: run `npm ci` in console/ first")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "openapi.json"
        output = Path(folder) / "api.d.ts"
        source.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True))
        # Fields with a default stay optional in request bodies (responses mark them required).
        options = ["--output", str(output), "--default-non-nullable", "false"]
        subprocess.run(
            [str(GENERATOR), str(source), *options], cwd=CONSOLE, check=True, capture_output=True
        )
        return output.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args()
    fresh = generate()
    if args.check:
        if not TYPES.exists() or TYPES.read_text() != fresh:
            print(f"{TYPES.relative_to(ROOT)} is stale: run scripts/console_api_types.py")
            return 1
        return 0
    TYPES.parent.mkdir(parents=True, exist_ok=True)
    TYPES.write_text(fresh)
    print(f"wrote {TYPES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
