"""Read-only download links for one backup blob, valid for at most one hour.

On Azure (managed identity) the link is signed with a user-delegation key, so no account
key is involved; with a connection string (Azurite, development) it is a service SAS signed
with the account key. Either way the link grants read on that one blob only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

from shared.settings import Settings
from shared.storage.clients import blob_service_client

MAX_LIFETIME = timedelta(hours=1)
# The signature starts a little in the past: clocks of client and storage differ.
CLOCK_SKEW = timedelta(minutes=5)


def download_url(
    settings: Settings, blob_name: str, lifetime: timedelta = MAX_LIFETIME
) -> tuple[str, datetime]:
    """A read-only URL for `blob_name` in the backup container, and when it expires."""
    lifetime = min(lifetime, MAX_LIFETIME)
    if lifetime <= timedelta(0):
        raise ValueError("a download link must live for a positive time")
    service = blob_service_client(settings)
    now = datetime.now(UTC)
    expiry = now + lifetime
    signature = _sign(service, settings.backup_container, blob_name, now - CLOCK_SKEW, expiry)
    blob = service.get_blob_client(settings.backup_container, blob_name)
    return f"{blob.url}?{signature}", expiry


def _sign(
    service: BlobServiceClient, container: str, blob_name: str, start: datetime, expiry: datetime
) -> str:
    credential = service.credential
    account_key = getattr(credential, "account_key", None)
    common = {
        "account_name": service.account_name,
        "container_name": container,
        "blob_name": blob_name,
        "permission": BlobSasPermissions(read=True),
        "start": start,
        "expiry": expiry,
        "protocol": "https" if service.url.startswith("https") else "https,http",
    }
    if account_key:
        return generate_blob_sas(account_key=account_key, **common)
    delegation = service.get_user_delegation_key(key_start_time=start, key_expiry_time=expiry)
    return generate_blob_sas(user_delegation_key=delegation, **common)
