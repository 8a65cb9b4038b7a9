"""Encryption keys and backup protection through the API, end to end in the emulator on the
machine's PostgreSQL and Azurite: encrypted backups by default, rotation, retirement
(crypto-shredding) with its dry run, legal holds, immutable backups and archived blobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.storage.blobs import AzureBlobStore
from tests.api.conftest import Api, repositories, secret_store
from tests.api.test_backups import add_database, finished_job, restore_target

__all__ = ["restore_target"]  # a fixture used here


async def backup(api: Api, database_id: str) -> dict:
    started = await api.call("POST", f"databases/{database_id}/backups", "operator")
    assert started.status == 202, started.text
    job = await finished_job(api, started.json())
    assert job["runtime_status"] == "Completed", job
    record = await api.call("GET", f"backups/{database_id}/{started.json()['record_id']}")
    return record.json()


async def run(api: Api, database_id: str, record_id: str, what: str, **body: object) -> dict:
    started = await api.call("POST", f"backups/{database_id}/{record_id}/{what}", json=body)
    assert started.status == 202, started.text
    # as admin: the failure's own text (readers see the fixed sentence of its kind)
    return (await finished_job(api, started.json(), "admin"))["output"]


async def test_keys_rotate_and_retire_with_their_backups(
    api: Api, api_env: dict[str, str], filled_database: str, restore_target: str
) -> None:
    database_id = await add_database(api, filled_database)
    first = await backup(api, database_id)
    assert first["encryption"] == "age" and first["blob_name"].endswith(".sql.zst.age")
    keys = (await api.call("GET", "keys", "reader")).json()
    [old] = keys["items"]
    assert old["current"] and old["id"] == first["identity_id"] and keys["encryption"]
    assert old["recipient"].startswith("age1") and "AGE-SECRET" not in str(keys)

    assert (await api.call("POST", "keys/rotate", "operator")).status == 403
    rotated = await api.call("POST", "keys/rotate")
    assert rotated.status == 201, rotated.text
    new = rotated.json()
    assert new["current"] and new["id"] != old["id"]
    second = await backup(api, database_id)
    assert second["identity_id"] == new["id"]

    refused = await api.call("POST", f"keys/{new['id']}/retire", json={"dry_run": False})
    assert refused.status == 409, refused.text
    dry = await api.call("POST", f"keys/{old['id']}/retire", json={})
    assert dry.status == 200 and dry.json()["dry_run"] is True
    assert [b["backup_id"] for b in dry.json()["unreadable"]] == [first["id"]]
    assert (await run(api, database_id, first["id"], "verify"))["ok"] is True  # still there

    retired = await api.call("POST", f"keys/{old['id']}/retire", json={"dry_run": False})
    assert retired.status == 200, retired.text
    assert retired.json()["key"]["state"] == "retired"
    assert "deleted" in retired.json()["secret"]
    again = await api.call("POST", f"keys/{old['id']}/retire", json={"dry_run": False})
    assert again.status == 409

    verified = await run(api, database_id, first["id"], "verify")
    assert verified["ok"] is False and verified["sha256_ok"] is True
    assert f"key {old['id']} was retired" in verified["error"]
    restored = await run(api, database_id, first["id"], "restore", target_database=restore_target)
    assert restored["ok"] is False and "retired" in restored["error"]
    assert (await run(api, database_id, second["id"], "verify"))["ok"] is True

    actions = [e["action"] for e in (await api.call("GET", "audit")).json()["items"]]
    assert "key.rotate" in actions and "key.retire" in actions


async def test_protected_backups_refuse_deletion_and_archived_ones_explain(
    api: Api, api_env: dict[str, str], filled_database: str
) -> None:
    database_id = await add_database(api, filled_database)
    record = await backup(api, database_id)
    path = f"backups/{database_id}/{record['id']}"

    # Azurite implements no legal holds: the API says so and changes nothing.
    held = await api.call("PUT", f"{path}/legal-hold")
    assert held.status == 409 and held.json()["error"]["code"] == "storage_unsupported"
    assert (await api.call("GET", path)).json()["legal_hold"] is False

    # An immutable record (as a backup of an immutable tier on Azure would be) cannot go.
    backups = repositories(api_env).backups
    stored = backups.get(database_id, record["id"])
    assert stored is not None
    until = datetime.now(UTC) + timedelta(days=30)
    backups.replace(stored.model_copy(update={"immutable_until": until}))
    refused = await api.call("DELETE", path)
    assert refused.status == 409 and "immutable until" in refused.json()["error"]["message"]
    gone = await api.call("DELETE", f"databases/{database_id}", params={"with_backups": "true"})
    assert gone.status == 409
    backups.replace(stored.model_copy(update={"immutable_until": None}))

    store = AzureBlobStore.from_connection_string(
        api_env["BACKUP_STORAGE_CONNECTION_STRING"], api_env["BACKUP_CONTAINER"]
    )
    store.set_access_tier(record["blob_name"], "archive")
    for method, action in (("GET", "download"), ("POST", "verify")):
        archived = await api.call(method, f"{path}/{action}", "operator")
        assert archived.status == 409, archived.text
        assert archived.json()["error"]["code"] == "archived"
        assert "rehydrate" in archived.json()["error"]["message"]
    body = {"target_database": "never_made"}
    archived = await api.call("POST", f"{path}/restore", "admin", json=body)
    assert archived.status == 409 and archived.json()["error"]["code"] == "archived"
    assert "rehydrate it first" in archived.json()["error"]["message"]
    rehydrated = await api.call("POST", f"{path}/rehydrate", "operator")
    assert rehydrated.status == 202, rehydrated.text
    # Azurite rehydrates at once (Azure takes hours and answers 409 meanwhile).
    assert (await api.call("GET", f"{path}/download", "operator")).status == 200
    assert (await api.call("POST", f"{path}/rehydrate", "operator")).status == 409


@pytest.mark.parametrize("recipients", ["age1nope", "ssh-ed25519 AAAA"])
async def test_a_policy_refuses_a_bad_recipient(api: Api, recipients: str) -> None:
    made = await api.call(
        "POST", "policies",
        json={"name": "p", "daily": {"keep_count": 3}, "encryption_recipients": [recipients]},
    )  # fmt: skip
    assert made.status == 422, made.text


async def test_a_key_protecting_held_immutable_or_running_backups_cannot_be_retired(
    api: Api, api_env: dict[str, str], filled_database: str
) -> None:
    from shared.models import BackupRecord, BackupStatus

    database_id = await add_database(api, filled_database)
    record = await backup(api, database_id)
    key_id = record["identity_id"]
    assert (await api.call("POST", "keys/rotate")).status == 201
    backups = repositories(api_env).backups
    stored = backups.get(database_id, record["id"])
    assert stored is not None
    until = datetime.now(UTC) + timedelta(days=30)
    running = BackupRecord(
        id="still-running", database_id=database_id, server_id=stored.server_id,
        status=BackupStatus.RUNNING, identity_id=key_id,
    )  # fmt: skip
    cases = (
        ({"legal_hold": True}, None, "under a legal hold"),
        ({"immutable_until": until}, None, f"immutable until {until:%Y-%m-%d}"),
        ({}, running, "running"),
    )
    for change, extra, reason in cases:
        backups.replace(stored.model_copy(update=change))
        if extra is not None:
            backups.create(extra)
        dry = await api.call("POST", f"keys/{key_id}/retire", json={})
        assert dry.status == 200, dry.text
        [blocked] = dry.json()["blocked_by"]
        assert reason in blocked["reason"], blocked
        refused = await api.call("POST", f"keys/{key_id}/retire", json={"dry_run": False})
        assert refused.status == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "key_protects_backups" and reason in error["message"]
        assert [b["backup_id"] for b in error["details"]] == [blocked["backup_id"]]
        assert (await api.call("GET", "keys")).json()["items"][1]["state"] == "active"
        backups.replace(stored)
        if extra is not None:
            backups.delete(database_id, extra.id)
    retired = await api.call("POST", f"keys/{key_id}/retire", json={"dry_run": False})
    assert retired.status == 200, retired.text


async def test_verify_refuses_a_different_key_returned_under_the_backup_s_key_id(
    api: Api, api_env: dict[str, str], filled_database: str, restore_target: str
) -> None:
    from shared.crypto.age import fingerprint, generate_identity
    from shared.secrets.base import backup_key_secret_name

    database_id = await add_database(api, filled_database)
    record = await backup(api, database_id)
    key_id = record["identity_id"]
    secrets = secret_store(api_env)
    name = backup_key_secret_name(key_id)
    genuine = secrets.get(name)
    assert genuine is not None
    other, other_recipient = generate_identity()  # a vault answering with another key
    secrets.set(name, other)

    verified = await run(api, database_id, record["id"], "verify")
    assert verified["ok"] is False and verified["sha256_ok"] is True
    message = verified["error"]
    assert f"a different key under the id {key_id}" in message, message
    assert fingerprint(other_recipient) in message and "AGE-SECRET" not in message
    restored = await run(api, database_id, record["id"], "restore", target_database=restore_target)
    assert restored["ok"] is False and "different key" in restored["error"]

    secrets.set(name, genuine)
    assert (await run(api, database_id, record["id"], "verify"))["ok"] is True


async def test_a_restore_of_a_record_without_manifest_says_not_compared(
    api: Api, api_env: dict[str, str], filled_database: str, restore_target: str
) -> None:
    """A record rebuilt from its blob's metadata (a dump committed before its job died)
    has no manifest: the restore cannot compare tables, and must not pass as if it had."""
    database_id = await add_database(api, filled_database)
    record = await backup(api, database_id)
    backups = repositories(api_env).backups
    stored = backups.get(database_id, record["id"])
    assert stored is not None and stored.manifest is not None
    backups.replace(stored.model_copy(update={"manifest": None}))

    restored = await run(api, database_id, record["id"], "restore", target_database=restore_target)
    assert restored["error"] is None and restored["tables_compared"] == 0
    assert restored["comparison"] == "not_compared", restored
    assert "no manifest" in restored["comparison_note"]
