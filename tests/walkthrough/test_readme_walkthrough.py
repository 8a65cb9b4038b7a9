"""The README's first backup, pasted into bash as it stands, against an EMPTY storage
account: a fresh Azurite of this test's own, a container and tables the app has never seen.
Nothing is created for the app: no fixture, no container, no table. It must create what it
needs itself, and the backup, the verify and the restore must succeed."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from emulator.testing import run_emulator
from tests.azurite import OwnAzurite
from tests.conftest import AZURITE_ACCOUNT_KEY, ROOT, unique_name

sys.path.insert(0, str(ROOT / "scripts"))
from local_storage import derived  # what `make run` exports

PG = "host=127.0.0.1 port=5432 user=postgres dbname={}"
SECTION = "## A first backup, download, verify and restore"


def readme_block() -> str:
    """The bash block of the README's walkthrough."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION) :]
    start = section.index("```bash\n") + len("```bash\n")
    return section[start : section.index("\n```", start)]


@pytest.fixture
def shop() -> Iterator[str]:
    """The name the walkthrough's `shop` database gets here (the machine's PostgreSQL is
    shared); the script creates it, this drops it and its restored copy afterwards."""
    name = unique_name("shop-")  # a database name that is also a valid id
    yield name
    with psycopg.connect(PG.format("postgres"), autocommit=True) as conn:
        for database in (name, f"{name}_restored"):
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.slow
async def test_the_readme_walkthrough_succeeds_on_an_empty_storage_account(
    tmp_path: Path, own_azurite: OwnAzurite, shop: str
) -> None:
    ports = {f"AZURITE_{kind.upper()}_PORT": str(port) for kind, port in own_azurite.ports.items()}
    env = {
        # This test's own Azurite has the public key; `make run`'s has the checkout's own.
        **derived(ports, tmp_path / "no-local-settings.json", account_key=AZURITE_ACCOUNT_KEY),
        "TABLE_PREFIX": unique_name("walk"),
        "BACKUP_CONTAINER": unique_name("walk-"),
        "SECRET_STORE": "local",
        "LOCAL_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "AUTH_MODE": "development",
        "DUMP_RETRY_SECONDS": "1",  # a failing backup fails fast
    }
    assert env["BACKUP_STORAGE_CONNECTION_STRING"] == own_azurite.connection_string
    script = readme_block()
    script = re.sub(r"\bshop\b", shop, script.replace("shop_restored", "RESTORED"))
    script = script.replace("RESTORED", f"{shop}_restored")
    async with run_emulator(ROOT, tmp_path / "state.sqlite", env=env) as emu:
        script = re.sub(r"(?m)^API=.*$", f"API={emu.base_url}/api", script)
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            "set -euo pipefail\n" + script,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 300)
    output = out.decode()
    assert process.returncode == 0, f"{output}\n{err.decode()}"
    results = [json.loads(line) for line in re.findall(r'\{"result":.*', output)]
    assert len(results) == 3, output
    backup, verify, restore = results
    assert backup["result"] == "succeeded", backup
    assert verify["result"] == "succeeded" and verify["output"]["ok"] is True, verify
    assert restore["result"] == "succeeded", restore
    assert restore["output"]["ok"] is True and restore["output"]["differences"] == [], restore
    assert f"{shop}.sql.zst.age: OK" in output  # the downloaded blob matches its checksum
    assert (tmp_path / f"{shop}.sql.zst.age").read_bytes().startswith(b"age-encryption.org/v1\n")
    with psycopg.connect(PG.format(f"{shop}_restored")) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (500,)
