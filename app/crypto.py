"""Seal submissions for their receiver, and keep the keys that open them.

The portal holds only the receiver's public key. Each submission gets a fresh
data key, sealed with HPKE (RFC 9180) to that public key; the values and the
files of the submission are encrypted under keys derived from the data key.
docs/sealed-format.md describes every byte; this module is its reference
implementation and the only place that touches `cryptography`.
"""

import hashlib
import hmac
import logging
import os
import secrets
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

VERSION = 1
DATA_KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16

SEAL_LABEL = b"modportal seal v1"
VALUES_LABEL = b"modportal values v1"
FILE_LABEL = b"modportal file v1"
LINK_LABEL = b"modportal link v1"
STORED_LABEL = b"modportal stored v1"
STEPS_LABEL = b"modportal steps v1"
LINK_SECRET_BYTES = 32

# The HPKE output is the X25519 encapsulated key followed by the sealed data
# key and its tag; a version byte in front lets a reader refuse what it does
# not know before it tries to open anything.
SEALED_KEY_SIZE = 1 + 32 + DATA_KEY_SIZE + TAG_SIZE

FILE_MAGIC = b"MPSF"
CHUNK_SIZE = 65536
NONCE_PREFIX_SIZE = 7
_HEADER = struct.Struct(">4sBI7s")
HEADER_SIZE = _HEADER.size
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
_MAX_CHUNKS = 2**32

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class CryptoError(Exception):
    """Sealed data or a key that cannot be trusted or cannot be used."""


def generate_private_key() -> X25519PrivateKey:
    """Create a new receiver key pair."""
    return X25519PrivateKey.generate()


def write_private_key(path: Path, key: X25519PrivateKey) -> None:
    """Store a private key as PEM PKCS8, readable by its owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")

    # O_EXCL with mode 0600 means the key never sits in a file someone else
    # could have opened first, or one that is readable for a moment.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    log.info("Wrote private key %s", path)


def load_private_key(path: Path) -> X25519PrivateKey:
    """Read a private key, refusing a file that group or others may access."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as file:
        # fstat on the open file, so the mode checked is that of the bytes read.
        mode = os.fstat(file.fileno()).st_mode
        if mode & 0o077:
            log.warning("Refused private key %s with mode %o", path, mode & 0o777)
            raise CryptoError(
                f"private key {path} is accessible by group or others "
                f"(mode {mode & 0o777:o}); it must be 0600 or 0400"
            )
        pem = file.read()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"private key {path} is not a readable PEM key") from exc
    if not isinstance(key, X25519PrivateKey):
        raise CryptoError(f"private key {path} is not an X25519 key")
    return key


def public_key_bytes(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    """Return the raw 32 bytes of a public key, or of a private key's public half."""
    if isinstance(key, X25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(raw: bytes) -> X25519PublicKey:
    """Build a public key from its raw 32 bytes."""
    if len(raw) != 32:
        raise CryptoError(f"a public key has 32 bytes, not {len(raw)}")
    return X25519PublicKey.from_public_bytes(raw)


def can_seal_to(raw: bytes) -> bool:
    """Say whether a raw X25519 public key can be sealed to (not a weak point)."""
    try:
        seal_data_key(new_data_key(), load_public_key(raw), "check", "check")
    except (CryptoError, ValueError):
        return False
    return True


def new_data_key() -> bytes:
    """Create a fresh random data key for one submission."""
    return secrets.token_bytes(DATA_KEY_SIZE)


def seal_data_key(
    data_key: bytes, public_key: X25519PublicKey, tenant: str, submission_id: str
) -> bytes:
    """Seal a data key to the receiver's public key for one submission."""
    _check_data_key(data_key)
    info = _context(SEAL_LABEL, tenant, submission_id)
    return bytes([VERSION]) + _SUITE.encrypt(data_key, public_key, info=info)


def open_data_key(
    sealed: bytes, private_key: X25519PrivateKey, tenant: str, submission_id: str
) -> bytes:
    """Open a sealed data key with the receiver's private key."""
    info = _context(SEAL_LABEL, tenant, submission_id)
    _check_version(sealed, "sealed key")
    if len(sealed) != SEALED_KEY_SIZE:
        raise CryptoError(f"a sealed key has {SEALED_KEY_SIZE} bytes")
    try:
        return _SUITE.decrypt(sealed[1:], private_key, info=info)
    except InvalidTag:
        raise CryptoError("sealed key does not open for this submission") from None


def encrypt_values(
    data_key: bytes, tenant: str, submission_id: str, plaintext: bytes
) -> bytes:
    """Encrypt a submission's values (JSON bytes) under its data key."""
    context = _context(VALUES_LABEL, tenant, submission_id)
    return _seal_box(_derive(data_key, context), context, plaintext)


def decrypt_values(
    data_key: bytes, tenant: str, submission_id: str, blob: bytes
) -> bytes:
    """Decrypt a submission's values blob under its data key."""
    context = _context(VALUES_LABEL, tenant, submission_id)
    return _open_box(_derive(data_key, context), context, blob, "values blob")


def new_link_secret() -> str:
    """Return the secret part of a link token: 256 bits from `secrets`."""
    return secrets.token_urlsafe(LINK_SECRET_BYTES)


def encrypt_for_link(token: str, link_id: str, plaintext: bytes) -> bytes:
    """Encrypt a link's pre-filled values under a key derived from its token."""
    context = _context(LINK_LABEL, link_id)
    return _seal_box(_token_key(token, context), context, plaintext)


def decrypt_for_link(token: str, link_id: str, blob: bytes) -> bytes:
    """Decrypt a link's pre-filled values with the token from the link."""
    context = _context(LINK_LABEL, link_id)
    return _open_box(_token_key(token, context), context, blob, "link values")


def encrypt_stored(key: bytes, kind: str, item_id: str, plaintext: bytes) -> bytes:
    """Encrypt an item kept at rest (a queued mail) under a local secret key."""
    context = _context(STORED_LABEL, kind, item_id)
    return _seal_box(_derive(key, context), context, plaintext)


def decrypt_stored(key: bytes, kind: str, item_id: str, blob: bytes) -> bytes:
    """Decrypt an item kept at rest under a local secret key."""
    context = _context(STORED_LABEL, kind, item_id)
    return _open_box(_derive(key, context), context, blob, f"stored {kind}")


def encrypt_step_state(key: bytes, binding: tuple[str, ...], plaintext: bytes) -> bytes:
    """Encrypt a stepped form's answers for the customer's page, bound to its form."""
    context = _context(STEPS_LABEL, *binding)
    return _seal_box(_derive(key, context), context, plaintext)


def decrypt_step_state(key: bytes, binding: tuple[str, ...], blob: bytes) -> bytes:
    """Decrypt a stepped form's answers; anything altered or foreign is refused."""
    context = _context(STEPS_LABEL, *binding)
    return _open_box(_derive(key, context), context, blob, "step state")


class FileSealer:
    """Encrypt one file of a submission chunk by chunk as it streams in."""

    def __init__(self, data_key: bytes, submission_id: str, file_id: str) -> None:
        self.header = _HEADER.pack(
            FILE_MAGIC, VERSION, CHUNK_SIZE, secrets.token_bytes(NONCE_PREFIX_SIZE)
        )
        self._chunks = _ChunkCipher(data_key, submission_id, file_id, self.header)
        self._buffer = bytearray()
        self._finished = False

    def update(self, data: bytes) -> bytes:
        """Return the sealed chunks completed by this data; keep the rest."""
        if self._finished:
            raise ValueError("the file sealer is already finished")
        view = memoryview(data)
        sealed = []

        # Top up the partial chunk first, then seal whole chunks straight from
        # the input, so no more than one chunk is ever held.
        if self._buffer:
            take = CHUNK_SIZE - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == CHUNK_SIZE:
                sealed.append(self._chunks.seal(self._buffer, last=False))
                self._buffer.clear()
        while len(view) >= CHUNK_SIZE:
            sealed.append(self._chunks.seal(view[:CHUNK_SIZE], last=False))
            view = view[CHUNK_SIZE:]
        self._buffer += view
        return b"".join(sealed)

    def finish(self) -> bytes:
        """Return the final chunk, which carries the last flag."""
        if self._finished:
            raise ValueError("the file sealer is already finished")
        self._finished = True
        final = self._chunks.seal(self._buffer, last=True)
        self._buffer.clear()
        return final


class FileOpener:
    """Decrypt one sealed file chunk by chunk, refusing anything altered."""

    SEALED_CHUNK = SEALED_CHUNK_SIZE

    def __init__(self, data_key: bytes, submission_id: str, file_id: str) -> None:
        # The cipher needs the header, which arrives later; check the
        # arguments now so a wrong call fails here and not mid-stream.
        _check_data_key(data_key)
        _context(FILE_LABEL, submission_id, file_id)
        self._data_key = data_key
        self._submission_id = submission_id
        self._file_id = file_id
        self._header = bytearray()
        self._chunks: _ChunkCipher | None = None
        self._buffer = bytearray()
        self._done = False

    def update(self, data: bytes) -> bytes:
        """Return the plaintext of every chunk this data completes."""
        view = memoryview(data)
        if self._done:
            if view:
                raise CryptoError("sealed file has data after its final chunk")
            return b""
        if self._chunks is None:
            view = self._read_header(view)
            if self._chunks is None:
                return b""
        plain = []

        # A chunk of full sealed size is never the final one, because the
        # final chunk always holds less than a full chunk of plaintext.
        while view:
            take = SEALED_CHUNK_SIZE - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == SEALED_CHUNK_SIZE:
                plain.append(self._chunks.open(self._buffer, last=False))
                self._buffer.clear()

        # Whatever is left may be the complete final chunk: only its tag can
        # tell, and a forged tag passes with negligible chance.
        # Limitation: the buffered tail is tried as the final chunk after every
        # update, so feeding pieces far smaller than SEALED_CHUNK costs one
        # decryption attempt per piece.
        if len(self._buffer) >= TAG_SIZE:
            final = self._chunks.try_open_final(self._buffer)
            if final is not None:
                plain.append(final)
                self._buffer.clear()
                self._done = True
        return b"".join(plain)

    def finish(self) -> None:
        """Confirm the file ended with its final chunk and nothing after it."""
        if not self._done:
            raise CryptoError("sealed file is truncated or altered")

    def _read_header(self, view: memoryview) -> memoryview:
        take = HEADER_SIZE - len(self._header)
        self._header += view[:take]
        if len(self._header) < HEADER_SIZE:
            return view[len(view) :]
        magic, version, chunk_size, _prefix = _HEADER.unpack(self._header)
        if magic != FILE_MAGIC:
            raise CryptoError("not a sealed file")
        if version != VERSION:
            raise CryptoError(f"sealed file version {version} is not supported")
        if chunk_size != CHUNK_SIZE:
            raise CryptoError(f"sealed file chunk size {chunk_size} is not supported")
        self._chunks = _ChunkCipher(
            self._data_key, self._submission_id, self._file_id, bytes(self._header)
        )
        return view[take:]


def sealed_size(plain_size: int) -> int:
    """Return the exact size of a file of plain_size bytes once sealed."""
    if plain_size < 0:
        raise ValueError("a file size cannot be negative")
    full_chunks, rest = divmod(plain_size, CHUNK_SIZE)
    return HEADER_SIZE + full_chunks * SEALED_CHUNK_SIZE + rest + TAG_SIZE


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a secret token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets in time that does not depend on where they differ."""
    if isinstance(a, str):
        a = a.encode("utf-8")
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hmac.compare_digest(a, b)


class _ChunkCipher:
    """AES-256-GCM over the chunks of one file, with their nonces and AD."""

    def __init__(
        self, data_key: bytes, submission_id: str, file_id: str, header: bytes
    ) -> None:
        context = _context(FILE_LABEL, submission_id, file_id)
        self._aead = AESGCM(_derive(data_key, context))
        self._prefix = header[-NONCE_PREFIX_SIZE:]
        ids = submission_id.encode("utf-8") + b"\x00" + file_id.encode("utf-8")
        self._associated = header + ids
        self._counter = 0

    def seal(self, chunk: bytes, last: bool) -> bytes:
        sealed = self._aead.encrypt(self._nonce(last), chunk, self._associated)
        self._counter += 1
        return sealed

    def open(self, sealed: bytes, last: bool) -> bytes:
        try:
            plain = self._aead.decrypt(self._nonce(last), sealed, self._associated)
        except InvalidTag:
            raise CryptoError(
                f"sealed file chunk {self._counter} is altered, moved or foreign"
            ) from None
        self._counter += 1
        return plain

    def try_open_final(self, sealed: bytes) -> bytes | None:
        try:
            return self.open(sealed, last=True)
        except CryptoError:
            return None

    def _nonce(self, last: bool) -> bytes:
        if self._counter >= _MAX_CHUNKS:
            raise CryptoError("file is too large for the sealed file format")
        return self._prefix + struct.pack(">IB", self._counter, 1 if last else 0)


def _context(label: bytes, *parts: str) -> bytes:
    """Join a label and identifiers with NUL bytes into one unambiguous string."""
    encoded = [label]
    for part in parts:
        if not part or "\x00" in part:
            raise ValueError("an identifier must be non-empty and free of NUL")
        encoded.append(part.encode("utf-8"))
    return b"\x00".join(encoded)


def _seal_box(key: bytes, context: bytes, plaintext: bytes) -> bytes:
    """Encrypt with AES-256-GCM: version byte, nonce, ciphertext and tag."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def _open_box(key: bytes, context: bytes, blob: bytes, what: str) -> bytes:
    _check_version(blob, what)
    if len(blob) < 1 + NONCE_SIZE + TAG_SIZE:
        raise CryptoError(f"{what} is too short")
    nonce = blob[1 : 1 + NONCE_SIZE]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_SIZE :], context)
    except InvalidTag:
        raise CryptoError(f"{what} does not open with this key") from None


def _token_key(token: str, context: bytes) -> bytes:
    """Derive a 256-bit key from a link token; the token is the only secret."""
    if len(token) < 22:
        raise ValueError("a link token carries at least 128 bits")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context)
    return hkdf.derive(token.encode("utf-8"))


def _derive(data_key: bytes, info: bytes) -> bytes:
    _check_data_key(data_key)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(data_key)


def _check_data_key(data_key: bytes) -> None:
    if len(data_key) != DATA_KEY_SIZE:
        raise ValueError(f"a data key has {DATA_KEY_SIZE} bytes")


def _check_version(blob: bytes, what: str) -> None:
    if not blob:
        raise CryptoError(f"{what} is empty")
    if blob[0] != VERSION:
        raise CryptoError(f"{what} version {blob[0]} is not supported")


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry itself is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
