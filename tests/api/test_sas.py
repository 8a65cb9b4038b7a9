"""Download links: read-only, one blob only, at most one hour (against Azurite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from shared.settings import Settings, load_settings
from shared.storage.sas import MAX_LIFETIME, download_url


@pytest.fixture
def stored_blob(storage_connection_string: str, blob_container: str) -> str:
    service = BlobServiceClient.from_connection_string(storage_connection_string)
    service.get_blob_client(blob_container, "srv/db/backup.sql.zst").upload_blob(b"dump bytes")
    service.get_blob_client(blob_container, "srv/db/other.sql.zst").upload_blob(b"other")
    return "srv/db/backup.sql.zst"


def settings_for(connection_string: str, container: str) -> Settings:
    return load_settings(
        backup_storage_connection_string=connection_string,
        backup_container=container,
        secret_store="local",
    )


def test_link_reads_that_blob_only(
    storage_connection_string: str, blob_container: str, stored_blob: str
) -> None:
    settings = settings_for(storage_connection_string, blob_container)
    url, expires_at = download_url(settings, stored_blob)
    assert requests.get(url, timeout=10).content == b"dump bytes"
    assert (
        requests.put(
            url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10
        ).status_code
        == 403
    )
    assert requests.delete(url, timeout=10).status_code == 403
    other = url.replace("backup.sql.zst", "other.sql.zst")
    assert requests.get(other, timeout=10).status_code == 403
    query = parse_qs(urlsplit(url).query)
    assert query["sp"] == ["r"]
    assert expires_at - datetime.now(UTC) <= MAX_LIFETIME


def test_lifetime_is_capped_at_one_hour(
    storage_connection_string: str, blob_container: str, stored_blob: str
) -> None:
    settings = settings_for(storage_connection_string, blob_container)
    _, expires_at = download_url(settings, stored_blob, timedelta(days=7))
    assert expires_at - datetime.now(UTC) <= timedelta(hours=1)
    with pytest.raises(ValueError):
        download_url(settings, stored_blob, timedelta(0))
