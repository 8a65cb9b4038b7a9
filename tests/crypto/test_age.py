"""Our age streams against Debian's `age` tool, in both directions, and how they fail.

The format is age v1 (X25519 recipients, 64 KiB ChaCha20-Poly1305 STREAM chunks with a
last-chunk flag). A truncated or changed file must raise, and what was written before the
failure must only ever be whole authenticated chunks: a prefix of the plaintext.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.crypto.age import (
    AgeError,
    DecryptionFailed,
    InvalidRecipient,
    check_recipient,
    decrypt_stream,
    encrypt_stream,
    generate_identity,
    identity_in_key_file,
    recipient_of,
)

CHUNK = 64 * 1024
AGE = shutil.which("age")
KEYGEN = shutil.which("age-keygen")
needs_age = pytest.mark.skipif(
    AGE is None or KEYGEN is None, reason="age is not installed: run scripts/ensure-debian-tools.sh"
)


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_identity()


@pytest.fixture(scope="module")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A key made by age-keygen: (key file, its recipient)."""
    assert KEYGEN is not None
    path = tmp_path_factory.mktemp("age") / "key.txt"
    subprocess.run([KEYGEN, "-o", str(path)], check=True, capture_output=True)
    recipient = subprocess.run(
        [KEYGEN, "-y", str(path)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return path, recipient


def ours_encrypt(plain: bytes, recipients: list[str]) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), out, recipients)
    return out.getvalue()


def ours_decrypt(cipher: bytes, identity: str) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(cipher), out, [identity])
    return out.getvalue()


def age_decrypt(cipher: bytes, key_file: Path) -> bytes:
    assert AGE is not None
    done = subprocess.run(
        [AGE, "-d", "-i", str(key_file)], input=cipher, capture_output=True, check=True
    )
    return done.stdout


def age_encrypt(plain: bytes, recipient: str) -> bytes:
    assert AGE is not None
    done = subprocess.run([AGE, "-r", recipient], input=plain, capture_output=True, check=True)
    return done.stdout


SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17, 1_000_000]


# --- keys ------------------------------------------------------------------------------


def test_a_generated_identity_and_its_recipient_belong_together(keypair: tuple[str, str]) -> None:
    identity, recipient = keypair
    assert identity.startswith("AGE-SECRET-KEY-1") and recipient.startswith("age1")
    assert recipient_of(identity) == recipient
    assert check_recipient(f"  {recipient}\n") == recipient


@pytest.mark.parametrize(
    "text", ["", "age1", "age1qqqqqqqq", "ssh-ed25519 AAAA", "AGE-SECRET-KEY-1QQQ", "age2xyz"]
)
def test_anything_but_an_x25519_recipient_is_refused(text: str) -> None:
    with pytest.raises(InvalidRecipient):
        check_recipient(text)


def test_a_recipient_with_one_changed_letter_is_refused(keypair: tuple[str, str]) -> None:
    recipient = keypair[1]
    changed = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")
    with pytest.raises(InvalidRecipient):
        check_recipient(changed)  # bech32's checksum catches it


# --- both directions against the age tool -----------------------------------------------


@needs_age
@pytest.mark.parametrize("size", SIZES)
def test_age_decrypts_what_we_encrypt(size: int, age_key: tuple[Path, str]) -> None:
    key_file, recipient = age_key
    plain = os.urandom(size)
    assert age_decrypt(ours_encrypt(plain, [recipient]), key_file) == plain


@needs_age
@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_what_age_encrypts(size: int, age_key: tuple[Path, str]) -> None:
    key_file, recipient = age_key
    plain = os.urandom(size)
    identity = identity_in_key_file(key_file.read_text())
    assert ours_decrypt(age_encrypt(plain, recipient), identity) == plain


@needs_age
def test_several_recipients_each_decrypt_alone(
    age_key: tuple[Path, str], keypair: tuple[str, str]
) -> None:
    key_file, break_glass = age_key
    identity, service = keypair
    plain = os.urandom(200_000)
    cipher = ours_encrypt(plain, [service, break_glass])
    assert ours_decrypt(cipher, identity) == plain
    assert age_decrypt(cipher, key_file) == plain


def test_a_file_for_other_keys_is_refused(keypair: tuple[str, str]) -> None:
    other = generate_identity()
    cipher = ours_encrypt(b"secret rows", [other[1]])
    with pytest.raises(DecryptionFailed, match="other keys"):
        ours_decrypt(cipher, keypair[0])


# --- truncation and changed bytes ----------------------------------------------------------


def _header_length(cipher: bytes) -> int:
    """Bytes before the 16-byte payload nonce: the header ends with its MAC line."""
    return cipher.index(b"\n", cipher.index(b"\n--- ") + 1) + 1


def _decrypt_partial(cipher: bytes, identity: str) -> tuple[bytes, BaseException | None]:
    out = io.BytesIO()
    try:
        decrypt_stream(io.BytesIO(cipher), out, [identity])
    except AgeError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _only_authenticated_chunks(written: bytes, plain: bytes, limit: int) -> None:
    """What reached the consumer is a chunk-aligned prefix of the plaintext, shorter than
    `limit` bytes (the chunk that failed and everything after it never came out)."""
    assert len(written) % CHUNK == 0
    assert len(written) < max(limit, 1)
    assert plain.startswith(written)


@pytest.mark.parametrize("size", [0, 100, CHUNK, 3 * CHUNK, 3 * CHUNK + 500])
def test_every_truncation_fails(size: int, keypair: tuple[str, str]) -> None:
    identity, recipient = keypair
    plain = os.urandom(size)
    cipher = ours_encrypt(plain, [recipient])
    header = _header_length(cipher)
    cuts = {0, 10, header - 1, header, header + 8, header + 16, len(cipher) - 1, len(cipher) - 16}
    cuts |= {header + 16 + k * (CHUNK + 16) for k in range(1, 4)}  # at chunk boundaries
    for cut in sorted(c for c in cuts if 0 <= c < len(cipher)):
        written, error = _decrypt_partial(cipher[:cut], identity)
        assert isinstance(error, DecryptionFailed), f"cut at {cut} of {len(cipher)} passed"
        _only_authenticated_chunks(written, plain, len(plain))


@pytest.mark.parametrize("size", [0, 100, 3 * CHUNK + 500])
def test_every_flipped_byte_region_fails(size: int, keypair: tuple[str, str]) -> None:
    identity, recipient = keypair
    plain = os.urandom(size)
    cipher = ours_encrypt(plain, [recipient])
    header = _header_length(cipher)
    places = {0, 5, header // 2, header - 3, header + 3, header + 16, len(cipher) - 1}
    places |= {header + 16 + CHUNK + 100, header + 16 + 2 * (CHUNK + 16) + 7}
    for place in sorted(p for p in places if p < len(cipher)):
        changed = bytearray(cipher)
        changed[place] ^= 0x01
        written, error = _decrypt_partial(bytes(changed), identity)
        assert isinstance(error, DecryptionFailed), f"flip at {place} passed"
        payload_at = place - header - 16
        limit = len(plain) if payload_at < 0 else (payload_at // (CHUNK + 16)) * CHUNK + 1
        _only_authenticated_chunks(written, plain, limit if payload_at >= 0 else 1)


def test_appended_bytes_fail(keypair: tuple[str, str]) -> None:
    identity, recipient = keypair
    cipher = ours_encrypt(os.urandom(CHUNK), [recipient])
    _written, error = _decrypt_partial(cipher + b"\x00" * 17, identity)
    assert isinstance(error, DecryptionFailed)


# --- the ends' own errors pass through ---------------------------------------------------


class _Broken(Exception):
    pass


class _FailingReader:
    def __init__(self, data: bytes, after: int) -> None:
        self._data = io.BytesIO(data)
        self._after = after

    def read(self, size: int = -1) -> bytes:
        if self._data.tell() >= self._after:
            raise _Broken("storage went away")
        return self._data.read(size)


class _FailingWriter:
    def __init__(self, after: int) -> None:
        self.written = 0
        self._after = after

    def write(self, data: bytes) -> int:
        if self.written >= self._after:
            raise _Broken("upload refused")
        self.written += len(data)
        return len(data)


def test_a_failing_source_or_sink_raises_its_own_error(keypair: tuple[str, str]) -> None:
    identity, recipient = keypair
    plain = os.urandom(5 * CHUNK)
    cipher = ours_encrypt(plain, [recipient])
    with pytest.raises(_Broken, match="storage went away"):
        encrypt_stream(_FailingReader(plain, 2 * CHUNK), io.BytesIO(), [recipient])
    with pytest.raises(_Broken, match="upload refused"):
        encrypt_stream(io.BytesIO(plain), _FailingWriter(2 * CHUNK), [recipient])
    with pytest.raises(_Broken, match="storage went away"):
        decrypt_stream(_FailingReader(cipher, 2 * CHUNK), io.BytesIO(), [identity])
    with pytest.raises(_Broken, match="upload refused"):
        decrypt_stream(io.BytesIO(cipher), _FailingWriter(CHUNK), [identity])


# --- random sizes around chunk boundaries ---------------------------------------------------

around_boundaries = st.builds(
    lambda chunks, delta: max(0, chunks * CHUNK + delta),
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=-3, max_value=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=around_boundaries, seed=st.binary(min_size=1, max_size=8))
def test_round_trip_around_chunk_boundaries(size: int, seed: bytes) -> None:
    identity, recipient = _KEYS
    plain = (hashlib.sha256(seed).digest() * (size // 32 + 1))[:size]
    cipher = ours_encrypt(plain, [recipient])
    chunks = max(1, -(-size // CHUNK))
    assert len(cipher) == _header_length(cipher) + 16 + size + 16 * chunks
    assert ours_decrypt(cipher, identity) == plain


@needs_age
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=around_boundaries)
def test_age_agrees_around_chunk_boundaries(size: int) -> None:
    key_file, recipient = _age_key_for_hypothesis()
    plain = os.urandom(size)
    assert age_decrypt(ours_encrypt(plain, [recipient]), key_file) == plain
    identity = identity_in_key_file(key_file.read_text())
    assert ours_decrypt(age_encrypt(plain, recipient), identity) == plain


_KEYS = generate_identity()
_AGE_KEY: list[tuple[Path, str]] = []


def _age_key_for_hypothesis() -> tuple[Path, str]:
    """One age-keygen key for the whole module (hypothesis cannot take function fixtures)."""
    if not _AGE_KEY:
        import tempfile

        assert KEYGEN is not None
        path = Path(tempfile.mkdtemp(prefix="age-")) / "key.txt"
        subprocess.run([KEYGEN, "-o", str(path)], check=True, capture_output=True)
        recipient = subprocess.run(
            [KEYGEN, "-y", str(path)], check=True, capture_output=True, text=True
        ).stdout.strip()
        _AGE_KEY.append((path, recipient))
    return _AGE_KEY[0]


# --- a multi-GB stream through pipes, memory bounded ------------------------------------------

STREAM_BYTES = int(os.environ.get("AGE_STREAM_TEST_BYTES", str(2 * 1024**3)))
PEAK_LIMIT_KIB = 64 * 1024


@needs_age
@pytest.mark.slow
def test_a_multi_gb_stream_both_directions_with_bounded_memory(
    age_key: tuple[Path, str], keypair: tuple[str, str], tmp_path: Path
) -> None:
    """zeros → ours (encrypt) → age -d → age -e → ours (decrypt) → count, all through pipes:
    the bytes and SHA-256 that come out are those that went in, and each of our processes
    stays under 64 MiB of peak RSS whatever the size."""
    assert AGE is not None
    key_file, age_recipient = age_key
    identity, recipient = keypair
    ours_key = tmp_path / "ours.txt"
    ours_key.write_text(f"# test key\n{identity}\n")
    child = [sys.executable, str(Path(__file__).with_name("age_child.py"))]
    feed = subprocess.Popen(["head", "-c", str(STREAM_BYTES), "/dev/zero"], stdout=subprocess.PIPE)
    stages = [
        [*child, "encrypt", recipient],
        [AGE, "-d", "-i", str(ours_key)],
        [AGE, "-r", age_recipient],
        [*child, "decrypt", str(key_file)],
        [*child, "count"],
    ]
    processes, upstream = [feed], feed.stdout
    for argv in stages:
        process = subprocess.Popen(
            argv, stdin=upstream, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert upstream is not None
        upstream.close()
        processes.append(process)
        upstream = process.stdout
    assert upstream is not None
    upstream.read()
    reports = []
    for process, argv in zip(processes[1:], stages, strict=True):
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, f"{argv[:3]} failed: {err[-500:]!r}"
        if argv[:2] == child:
            reports.append(json.loads(err.decode().strip().splitlines()[-1]))
    feed.wait()
    expected = hashlib.sha256()
    zeros = bytes(1 << 20)
    for _ in range(STREAM_BYTES >> 20):
        expected.update(zeros)
    expected.update(bytes(STREAM_BYTES & ((1 << 20) - 1)))
    encrypted, decrypted, counted = reports
    assert counted["bytes"] == STREAM_BYTES
    assert counted["sha256"] == expected.hexdigest()
    print(f"peak RSS: encrypt {encrypted['peak_kib']} KiB, decrypt {decrypted['peak_kib']} KiB")
    assert encrypted["peak_kib"] < PEAK_LIMIT_KIB
    assert decrypted["peak_kib"] < PEAK_LIMIT_KIB
