"""A throwaway MariaDB on TCP with TLS, its certificate signed by a test CA, for tests.

The machine's MariaDB has no TLS. This one is the same binaries in a temporary data
folder (mariadb-install-db, then mariadbd as the `mysql` user when the tests run as root),
with a user `app` that has a password, and the CA's certificate in `ca_file` for clients
that are to trust it (SSL_CERT_FILE).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVER_USER = "mysql"
SERVER = Path("/usr/sbin/mariadbd")
USER, PASSWORD = "app", "tls-app-Pw7"


@dataclass
class MariaDbTlsServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    @property
    def socket_path(self) -> Path:
        return self.root / "mariadb.sock"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_mariadb_tls_server() -> MariaDbTlsServer:
    root = Path(tempfile.mkdtemp(prefix="dilux-mariadb-tls-"))
    root.chmod(0o755)
    server = MariaDbTlsServer(root, _free_port())
    try:
        _write_certificates(root)
        _own(root)
        _run("mariadb-install-db", "--no-defaults", f"--datadir={root / 'data'}",
             f"--user={SERVER_USER}", "--skip-test-db")  # fmt: skip
        server.process = subprocess.Popen(
            [
                str(SERVER), "--no-defaults", f"--datadir={root / 'data'}",
                f"--socket={server.socket_path}", f"--port={server.port}",
                "--bind-address=127.0.0.1", f"--user={SERVER_USER}",
                f"--ssl-ca={root / 'ca.pem'}", f"--ssl-cert={root / 'server.pem'}",
                f"--ssl-key={root / 'server.key'}", "--innodb-buffer-pool-size=16M",
                f"--pid-file={root / 'mariadb.pid'}", "--skip-log-bin",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(root / "error.log").open("wb"),
        )  # fmt: skip
        _create_user(server)
    except BaseException:
        server.stop()
        raise
    return server


def _create_user(server: MariaDbTlsServer) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = pymysql.connect(unix_socket=str(server.socket_path), user="root")
            break
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline or server.process.poll() is not None:  # type: ignore[union-attr]
                raise
            time.sleep(0.2)
    with conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cursor.execute(f"GRANT ALL ON *.* TO '{USER}'@'%'")


def _run(*argv: str) -> None:
    subprocess.run(list(argv), capture_output=True, check=True, timeout=120)


def _own(root: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SERVER_USER)
    for path in [root, *root.iterdir()]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_certificates(root: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("dilux test CA"))
        .issuer_name(_name("dilux test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (root / "ca.pem").write_bytes(ca.public_bytes(pem))
    (root / "server.pem").write_bytes(certificate.public_bytes(pem))
    private = key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    (root / "server.key").write_bytes(private)
    (root / "server.key").chmod(0o600)
