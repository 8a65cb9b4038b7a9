"""`run_verify` and `run_restore`: the on-demand checks of one stored backup.

Neither raises for a bad backup or a refused target: the outcome says what went wrong
(sanitised), because retrying would not change the answer. `restore_into` is the restore
and its comparison with the manifest, which restore drills run too (activities/drills.py).
"""

from __future__ import annotations

import logging
from typing import TypeVar

from activities import bp
from activities.backup_records import MissingConfiguration, clean_error
from activities.wiring import Services, services
from shared.credentials import CredentialsError, connection_spec_for, server_spec_for
from shared.crypto.age import AgeError, fingerprint, recipient_of
from shared.engines.base import ConnectionSpec, EngineError
from shared.engines.registry import engine_for
from shared.job_context import add_fields, job_context
from shared.jobs import (
    RUN_RESTORE,
    RUN_VERIFY,
    RestoreJob,
    RestoreOutput,
    TableDifferenceOut,
    VerifyJob,
    VerifyOutput,
    dump_json,
)
from shared.models import BackupRecord, BackupStatus, Database, Server
from shared.pipeline.restore import restore_backup
from shared.pipeline.results import PipelineFailed, RestoreOutcome
from shared.pipeline.verify import verify_backup
from shared.storage.blobs import BlobStoreError

log = logging.getLogger(__name__)
Output = TypeVar("Output", VerifyOutput, RestoreOutput)
# What a restore may fail with, said in its outcome rather than raised.
RESTORE_FAILURES = (
    MissingConfiguration,
    CredentialsError,
    EngineError,
    PipelineFailed,
    BlobStoreError,
)


def restorable(
    services: Services, database_id: str, backup_id: str
) -> tuple[Database, Server, BackupRecord]:
    repositories = services.repositories
    database = repositories.databases.get(database_id)
    record = repositories.backups.get(database_id, backup_id)
    if database is None or record is None:
        raise MissingConfiguration(f"backup {backup_id} of database {database_id} does not exist")
    server = repositories.servers.get(database.server_id)
    if server is None:
        raise MissingConfiguration(f"server {database.server_id} does not exist")
    if record.status is not BackupStatus.SUCCEEDED or not record.blob_name or not record.sha256:
        raise MissingConfiguration(
            f"backup {backup_id} has no stored dump (status {record.status})"
        )
    return database, server, record


def identity_for(services: Services, record: BackupRecord) -> tuple[str | None, str]:
    """The secret identity an encrypted backup needs, or None and why it is missing."""
    if record.encryption is None:
        return None, ""
    if not record.identity_id:
        return None, "its record names no key"
    secret = services.keys.secret_of(record.identity_id)
    if secret is not None:
        return _checked(services, record.identity_id, secret)
    key = services.keys.get(record.identity_id)
    if key is not None and key.retired_at is not None:
        return None, f"its key {record.identity_id} was retired on {key.retired_at:%Y-%m-%d}"
    return None, f"its key {record.identity_id} is not in the secret store"


def _checked(services: Services, key_id: str, secret: str) -> tuple[str | None, str]:
    """The secret, if it is the key the backup names: a key id is the fingerprint of its
    public key, and the keys table holds that public key. A store answering with another
    key under the same id (a secret overwritten, a vault restored from the wrong copy) is
    said as such, rather than as a blob that does not decrypt."""
    try:
        recipient = recipient_of(secret)
    except AgeError:
        return None, f"the secret store holds no valid key under the id {key_id}"
    row = services.keys.get(key_id)
    expected = row.recipient if row is not None else None
    if fingerprint(recipient) == key_id and expected in (None, recipient):
        return secret, ""
    return None, (
        f"the secret store returned a different key under the id {key_id} (its public key "
        f"has the fingerprint {fingerprint(recipient)}): not used to decrypt; restore the "
        "key's secret from a copy of the vault"
    )


@bp.activity_trigger(input_name="data", activity=RUN_VERIFY)
def run_verify(data: dict) -> dict:
    job = VerifyJob.model_validate(data)
    with job_context(
        instance_id=job.instance_id, record_id=job.backup_id, database=job.database_id
    ):
        output = _verify(job)
    return dump_json(output)


def _verify(job: VerifyJob) -> VerifyOutput:
    output = VerifyOutput(database_id=job.database_id, backup_id=job.backup_id, ok=False)
    try:
        _, server, record = restorable(services(), job.database_id, job.backup_id)
        assert record.blob_name and record.sha256
        add_fields(server=server.id)
        log.info("verify started")
        # The dump's own last words, checked after decompressing to the end.
        marker = engine_for(server.engine).completion_marker
        identity, missing = identity_for(services(), record)
        outcome = verify_backup(
            services().blobs,
            record.blob_name,
            record.sha256,
            marker,
            encrypted=record.encryption is not None,
            identity=identity,
            missing_identity=missing,
        )
    except (MissingConfiguration, BlobStoreError) as exc:
        return _ended("verify", output.model_copy(update={"error": clean_error(str(exc))}))
    update = {
        "ok": outcome.ok,
        "sha256_ok": outcome.sha256 == record.sha256,
        "raw_bytes": outcome.raw_bytes,
    }
    update["marker_ok"] = True if outcome.ok else None  # a failure does not say which check
    update["error"] = clean_error(outcome.reason) if outcome.reason else None
    return _ended("verify", output.model_copy(update=update))


def _ended(job: str, output: Output) -> Output:
    if output.ok:
        log.info("%s succeeded", job)
    else:
        differences = "; ".join(getattr(output, "differences", []))
        log.warning("%s failed: %s", job, output.error or differences or "no reason given")
    return output


def target_spec(
    services: Services, job: RestoreJob, database: Database, server: Server
) -> tuple[Server, ConnectionSpec]:
    """The target on the database's own server keeps its credentials; another server's uses
    that server's credentials."""
    settings, secrets = services.settings, services.secrets
    if job.target_server_id in (None, server.id):
        target = database.model_copy(update={"name": job.target_database})
        return server, connection_spec_for(server, target, secrets, settings)
    other = services.repositories.servers.get(job.target_server_id)
    if other is None:
        raise MissingConfiguration(f"server {job.target_server_id} does not exist")
    return other, server_spec_for(other, secrets, settings, job.target_database)


def restore_into(services: Services, job: RestoreJob) -> tuple[Server, RestoreOutcome]:
    """Restores the job's backup into its target and compares the tables with the backup's
    manifest; raises one of RESTORE_FAILURES when it cannot."""
    database, server, record = restorable(services, job.database_id, job.backup_id)
    target_server, spec = target_spec(services, job, database, server)
    assert record.blob_name and record.sha256
    add_fields(server=server.id)
    log.info("restore into %s on %s started", job.target_database, target_server.id)
    identity, missing = identity_for(services, record)
    if record.encryption is not None and identity is None:
        raise MissingConfiguration(f"the backup is encrypted and {missing}")
    outcome = restore_backup(
        engine_for(target_server.engine),
        spec,
        services.blobs,
        record.blob_name,
        record.sha256,
        manifest=record.manifest,
        allow_non_empty=job.allow_non_empty,
        timeout_seconds=services.settings.dump_timeout_seconds,
        encrypted=record.encryption is not None,
        identity=identity,
        recount=services.settings.restore_count_rows,
    )
    return target_server, outcome


def described_differences(outcome: RestoreOutcome) -> list[str]:
    return [
        f"{d.table}: expected {d.expected_rows} rows, found {d.actual_rows}"
        for d in outcome.differences
    ]


@bp.activity_trigger(input_name="data", activity=RUN_RESTORE)
def run_restore(data: dict) -> dict:
    job = RestoreJob.model_validate(data)
    with job_context(
        instance_id=job.instance_id, record_id=job.backup_id, database=job.database_id
    ):
        output = _restore(job)
    return dump_json(output)


def _comparison(outcome: RestoreOutcome, differences: list[str]) -> dict[str, str | None]:
    """Whether the restored tables were compared with the backup's manifest, and how it
    went. A record without a manifest (rebuilt from its blob's metadata) compares nothing,
    and says so rather than passing."""
    if not outcome.compared:
        note = (
            "not compared: the backup's record has no manifest (it was rebuilt from the "
            "blob's metadata), so the restored tables could not be checked against the dump"
        )
        return {"comparison": "not_compared", "comparison_note": note}
    return {"comparison": "differs" if differences else "matches", "comparison_note": None}


def _restore(job: RestoreJob) -> RestoreOutput:
    output = RestoreOutput(
        database_id=job.database_id,
        backup_id=job.backup_id,
        target_database=job.target_database,
        target_server_id=job.target_server_id or "unknown",
        ok=False,
    )
    try:
        target_server, outcome = restore_into(services(), job)
    except RESTORE_FAILURES as exc:
        return _ended("restore", output.model_copy(update={"error": clean_error(str(exc))}))
    differences = described_differences(outcome)
    update = {
        "ok": not differences,
        "differences": differences,
        **_comparison(outcome, differences),
        "table_differences": [
            TableDifferenceOut(
                table=d.table, expected_rows=d.expected_rows, actual_rows=d.actual_rows
            )
            for d in outcome.differences
        ],
        "tables_compared": outcome.tables_compared,
        "target_server_id": target_server.id,
    }
    return _ended("restore", output.model_copy(update=update))
