import json
import os
import random
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import crypto
from app.crypto import CryptoError, FileOpener, FileSealer

TENANT = "stadtwerke-musterstadt"
SUBMISSION = "sub-0001"
CHUNK = 65536
SEALED_CHUNK = CHUNK + 16
FORMAT_DOC = Path(__file__).parent.parent / "docs" / "sealed-format.md"


@pytest.fixture
def data_key():
    return crypto.new_data_key()


@pytest.fixture
def private_key():
    return crypto.generate_private_key()


def payload(size):
    return random.Random(size).randbytes(size)


def seal_file(data_key, data, submission=SUBMISSION, file_id="file-a"):
    sealer = FileSealer(data_key, submission, file_id)
    return sealer.header + sealer.update(data) + sealer.finish()


def feed(update, data, pieces):
    """Pass data to update in pieces whose sizes cycle through pieces."""
    output, offset, turn = bytearray(), 0, 0
    while offset < len(data):
        size = pieces[turn % len(pieces)]
        output += update(data[offset : offset + size])
        offset, turn = offset + size, turn + 1
    return bytes(output)


def open_file(data_key, sealed, pieces, submission=SUBMISSION, file_id="file-a"):
    opener = FileOpener(data_key, submission, file_id)
    plain = feed(opener.update, sealed, pieces)
    opener.finish()
    return plain


def split_file(sealed):
    """Return the header and the list of sealed chunks, the final one last."""
    body = sealed[16:]
    return sealed[:16], [
        body[i : i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)
    ]


def flip(blob, position):
    changed = bytearray(blob)
    changed[position] ^= 0x01
    return bytes(changed)


# Values


@pytest.mark.parametrize(
    "plaintext",
    [
        b"",
        b"{}",
        json.dumps({"name": "Jürgen Müßig", "zählerstand": "04711"}).encode(),
        payload(100_000),
    ],
)
def test_values_round_trip_with_version_and_nonce_in_front(data_key, plaintext):
    blob = crypto.encrypt_values(data_key, TENANT, SUBMISSION, plaintext)

    assert len(blob) == 1 + 12 + len(plaintext) + 16
    assert blob[0] == 1
    assert crypto.decrypt_values(data_key, TENANT, SUBMISSION, blob) == plaintext


def test_values_use_a_fresh_nonce_each_time(data_key):
    first = crypto.encrypt_values(data_key, TENANT, SUBMISSION, b"{}")
    second = crypto.encrypt_values(data_key, TENANT, SUBMISSION, b"{}")

    assert first[1:13] != second[1:13]


@pytest.mark.parametrize(
    ("tenant", "submission"),
    [("stadtwerke-anderstadt", SUBMISSION), (TENANT, "sub-0002")],
)
def test_values_refused_for_another_tenant_or_submission(data_key, tenant, submission):
    blob = crypto.encrypt_values(data_key, TENANT, SUBMISSION, b'{"a": 1}')

    with pytest.raises(CryptoError, match="does not open"):
        crypto.decrypt_values(data_key, tenant, submission, blob)


@pytest.mark.parametrize(
    "position", [1, 12, 13, -1], ids=["nonce", "nonce-end", "body", "tag"]
)
def test_values_refused_after_a_bit_flip(data_key, position):
    blob = crypto.encrypt_values(data_key, TENANT, SUBMISSION, b'{"a": 1}')

    with pytest.raises(CryptoError, match="does not open"):
        crypto.decrypt_values(data_key, TENANT, SUBMISSION, flip(blob, position))


def test_values_refused_under_another_data_key(data_key):
    blob = crypto.encrypt_values(data_key, TENANT, SUBMISSION, b"{}")

    with pytest.raises(CryptoError, match="does not open"):
        crypto.decrypt_values(crypto.new_data_key(), TENANT, SUBMISSION, blob)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "values blob is empty"),
        (b"\x02" + bytes(28), "values blob version 2 is not supported"),
        (b"\x01" + bytes(27), "values blob is too short"),
    ],
)
def test_values_blob_refused_when_malformed(data_key, blob, message):
    with pytest.raises(CryptoError, match=f"^{message}$"):
        crypto.decrypt_values(data_key, TENANT, SUBMISSION, blob)


@pytest.mark.parametrize(
    ("tenant", "submission"),
    [("", SUBMISSION), (TENANT, ""), ("a\x00b", SUBMISSION), (TENANT, "s\x00")],
)
def test_identifiers_empty_or_with_nul_refused(data_key, tenant, submission):
    with pytest.raises(ValueError, match="non-empty and free of NUL"):
        crypto.encrypt_values(data_key, tenant, submission, b"{}")


# Sealed data key


def test_data_key_round_trip_through_hpke(data_key, private_key):
    public_key = private_key.public_key()
    sealed = crypto.seal_data_key(data_key, public_key, TENANT, SUBMISSION)

    assert len(sealed) == 81
    assert sealed[0] == 1
    assert crypto.open_data_key(sealed, private_key, TENANT, SUBMISSION) == data_key


@pytest.mark.parametrize(
    ("tenant", "submission"),
    [("stadtwerke-anderstadt", SUBMISSION), (TENANT, "sub-0002")],
)
def test_sealed_key_refused_for_another_tenant_or_submission(
    data_key, private_key, tenant, submission
):
    sealed = crypto.seal_data_key(
        data_key, private_key.public_key(), TENANT, SUBMISSION
    )

    with pytest.raises(CryptoError, match="does not open"):
        crypto.open_data_key(sealed, private_key, tenant, submission)


@pytest.mark.parametrize(
    "change",
    [
        lambda sealed, other_key: (sealed, other_key),
        lambda sealed, other_key: (flip(sealed, 5), None),
        lambda sealed, other_key: (flip(sealed, 80), None),
    ],
    ids=["other-private-key", "bit-flip-in-enc", "bit-flip-in-tag"],
)
def test_sealed_key_refused_when_key_or_bytes_differ(data_key, private_key, change):
    sealed = crypto.seal_data_key(
        data_key, private_key.public_key(), TENANT, SUBMISSION
    )
    sealed, other_key = change(sealed, crypto.generate_private_key())

    with pytest.raises(CryptoError, match="does not open"):
        crypto.open_data_key(sealed, other_key or private_key, TENANT, SUBMISSION)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda sealed: b"\x02" + sealed[1:], "sealed key version 2 is not supported"),
        (lambda sealed: sealed[:-1], "a sealed key has 81 bytes"),
        (lambda sealed: b"", "sealed key is empty"),
    ],
)
def test_sealed_key_refused_when_malformed(data_key, private_key, change, message):
    sealed = crypto.seal_data_key(
        data_key, private_key.public_key(), TENANT, SUBMISSION
    )

    with pytest.raises(CryptoError, match=f"^{message}$"):
        crypto.open_data_key(change(sealed), private_key, TENANT, SUBMISSION)


def test_sealed_key_opens_with_the_documented_hpke_info(data_key, private_key):
    sealed = crypto.seal_data_key(
        data_key, private_key.public_key(), TENANT, SUBMISSION
    )
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    info = b"modportal seal v1\x00stadtwerke-musterstadt\x00sub-0001"

    assert suite.decrypt(sealed[1:], private_key, info=info) == data_key


# Sealed files


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7919])
@pytest.mark.parametrize(
    "pieces", [(7919,), (1, 7919), (SEALED_CHUNK,), (16, SEALED_CHUNK), (10**7,)]
)
def test_file_round_trip_in_any_piece_sizes(data_key, size, pieces):
    data = payload(size)
    sealed = seal_file(data_key, data)

    assert len(sealed) == crypto.sealed_size(size)
    assert open_file(data_key, sealed, pieces) == data


@pytest.mark.parametrize("size", [0, 1, 17, 300])
def test_file_round_trip_fed_byte_by_byte(data_key, size):
    data = payload(size)
    sealed = seal_file(data_key, data)

    assert open_file(data_key, sealed, (1,)) == data


@pytest.mark.parametrize("pieces", [(1,), (7919,), (CHUNK - 1, 2), (10**7,)])
def test_file_sealed_from_any_piece_sizes_opens(data_key, pieces):
    data = payload(2 * CHUNK + 3)
    sealer = FileSealer(data_key, SUBMISSION, "file-a")
    sealed = sealer.header + feed(sealer.update, data, pieces) + sealer.finish()

    assert len(sealed) == crypto.sealed_size(len(data))
    assert open_file(data_key, sealed, (10**7,)) == data


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, 32),
        (1, 33),
        (CHUNK - 1, 65567),
        (CHUNK, 65584),
        (CHUNK + 1, 65585),
        (2 * CHUNK, 131136),
    ],
)
def test_sealed_size_is_exact(data_key, size, expected):
    assert crypto.sealed_size(size) == expected
    assert len(seal_file(data_key, payload(size))) == expected


def test_sealer_holds_back_less_than_one_chunk(data_key):
    sealer = FileSealer(data_key, SUBMISSION, "file-a")

    assert sealer.update(bytes(CHUNK - 1)) == b""
    assert len(sealer.update(bytes(2))) == SEALED_CHUNK
    assert len(sealer.update(bytes(2 * CHUNK))) == 2 * SEALED_CHUNK
    assert len(sealer.finish()) == 1 + 16


def test_file_header_layout_with_a_fresh_prefix(data_key):
    first = FileSealer(data_key, SUBMISSION, "file-a").header
    second = FileSealer(data_key, SUBMISSION, "file-a").header

    assert len(first) == 16
    assert first[:9] == b"MPSF\x01\x00\x01\x00\x00"
    assert first[9:] != second[9:]


def test_opener_gives_each_chunk_as_soon_as_it_is_complete(data_key):
    data = payload(2 * CHUNK + 5)
    sealed = seal_file(data_key, data)
    opener = FileOpener(data_key, SUBMISSION, "file-a")

    assert opener.update(sealed[: 16 + SEALED_CHUNK]) == data[:CHUNK]
    assert opener.update(sealed[16 + SEALED_CHUNK : -1]) == data[CHUNK : 2 * CHUNK]
    assert opener.update(sealed[-1:]) == data[2 * CHUNK :]
    assert FileOpener.SEALED_CHUNK == SEALED_CHUNK


TAMPERINGS = {
    "chunks-reordered": lambda h, c: h + c[1] + c[0] + c[2] + c[3],
    "middle-chunk-dropped": lambda h, c: h + c[0] + c[2] + c[3],
    "final-chunk-dropped": lambda h, c: h + c[0] + c[1] + c[2],
    "final-chunk-cut": lambda h, c: h + c[0] + c[1] + c[2] + c[3][:-1],
    "chunk-appended": lambda h, c: h + b"".join(c) + c[0],
    "final-chunk-repeated": lambda h, c: h + b"".join(c) + c[3],
    "byte-appended": lambda h, c: h + b"".join(c) + b"\x00",
    "header-only": lambda h, c: h,
    "header-cut": lambda h, c: h[:15],
    "bit-flip-in-prefix": lambda h, c: flip(h, 12) + b"".join(c),
    "bit-flip-in-chunk": lambda h, c: h + flip(c[0], 100) + b"".join(c[1:]),
    "bit-flip-in-final-tag": lambda h, c: h + b"".join(c[:3]) + flip(c[3], -1),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
@pytest.mark.parametrize("pieces", [(7919,), (10**7,)])
def test_file_refused_when_tampered(data_key, tamper, pieces):
    header, chunks = split_file(seal_file(data_key, payload(3 * CHUNK + 5)))
    assert len(chunks) == 4

    with pytest.raises(CryptoError):
        open_file(data_key, tamper(header, chunks), pieces)


def test_data_after_final_chunk_refused_in_a_later_update(data_key):
    sealed = seal_file(data_key, "Zählerstand".encode())
    opener = FileOpener(data_key, SUBMISSION, "file-a")

    assert opener.update(sealed) == b"Z\xc3\xa4hlerstand"
    with pytest.raises(CryptoError, match="data after its final chunk"):
        opener.update(b"\x00")


@pytest.mark.parametrize(
    ("submission", "file_id"), [(SUBMISSION, "file-b"), ("sub-0002", "file-a")]
)
def test_file_refused_as_another_file_or_submission(data_key, submission, file_id):
    sealed = seal_file(data_key, payload(CHUNK + 1))

    with pytest.raises(CryptoError, match="chunk 0 is altered, moved or foreign"):
        open_file(data_key, sealed, (10**7,), submission, file_id)


@pytest.mark.parametrize("swap", ["header", "chunk"])
def test_chunks_swapped_between_files_refused(data_key, swap):
    header_a, chunks_a = split_file(seal_file(data_key, payload(CHUNK + 1)))
    header_b, chunks_b = split_file(
        seal_file(data_key, payload(CHUNK + 1), "sub-0001", "file-b")
    )
    if swap == "header":
        mixed = header_b + b"".join(chunks_a)
    else:
        mixed = header_a + chunks_b[0] + chunks_a[1]

    with pytest.raises(CryptoError, match="chunk 0 is altered, moved or foreign"):
        open_file(data_key, mixed, (10**7,))


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"XPSF", "not a sealed file"),
        (4, b"\x02", "sealed file version 2 is not supported"),
        (5, struct.pack(">I", 4096), "sealed file chunk size 4096 is not supported"),
    ],
)
def test_file_header_refused_when_unknown(data_key, offset, value, message):
    sealed = bytearray(seal_file(data_key, b"abc"))
    sealed[offset : offset + len(value)] = value

    with pytest.raises(CryptoError, match=f"^{message}$"):
        FileOpener(data_key, SUBMISSION, "file-a").update(bytes(sealed))


# Key files


def test_private_key_written_owner_only_and_loaded_back(tmp_path, private_key):
    path = tmp_path / "receiver.pem"
    crypto.write_private_key(path, private_key)

    assert os.stat(path).st_mode & 0o777 == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = crypto.load_private_key(path)
    assert crypto.public_key_bytes(loaded) == crypto.public_key_bytes(private_key)


def test_private_key_written_0600_under_a_permissive_umask(tmp_path, private_key):
    previous = os.umask(0)
    try:
        crypto.write_private_key(tmp_path / "receiver.pem", private_key)
    finally:
        os.umask(previous)

    assert os.stat(tmp_path / "receiver.pem").st_mode & 0o777 == 0o600


def test_private_key_replaced_without_leaving_a_temporary_file(tmp_path):
    path = tmp_path / "receiver.pem"
    crypto.write_private_key(path, crypto.generate_private_key())
    second = crypto.generate_private_key()
    crypto.write_private_key(path, second)

    assert sorted(os.listdir(tmp_path)) == ["receiver.pem"]
    loaded = crypto.load_private_key(path)
    assert crypto.public_key_bytes(loaded) == crypto.public_key_bytes(second)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_private_key_accessible_by_group_or_others_refused(tmp_path, private_key, mode):
    path = tmp_path / "receiver.pem"
    crypto.write_private_key(path, private_key)
    path.chmod(mode)

    with pytest.raises(CryptoError, match=f"mode {mode:o}\\); it must be 0600"):
        crypto.load_private_key(path)


def test_private_key_read_only_for_owner_accepted(tmp_path, private_key):
    path = tmp_path / "receiver.pem"
    crypto.write_private_key(path, private_key)
    path.chmod(0o400)

    loaded = crypto.load_private_key(path)
    assert crypto.public_key_bytes(loaded) == crypto.public_key_bytes(private_key)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"kein Schl\xc3\xbcssel", "is not a readable PEM key"),
        (
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "is not an X25519 key",
        ),
    ],
)
def test_private_key_file_refused_when_not_an_x25519_key(tmp_path, content, message):
    path = tmp_path / "receiver.pem"
    path.write_bytes(content)
    path.chmod(0o600)

    with pytest.raises(CryptoError, match=message):
        crypto.load_private_key(path)


def test_public_key_round_trips_as_32_raw_bytes(private_key):
    raw = crypto.public_key_bytes(private_key)

    assert len(raw) == 32
    assert crypto.public_key_bytes(private_key.public_key()) == raw
    assert crypto.public_key_bytes(crypto.load_public_key(raw)) == raw


@pytest.mark.parametrize("size", [0, 31, 33])
def test_public_key_of_wrong_length_refused(size):
    with pytest.raises(CryptoError, match=f"^a public key has 32 bytes, not {size}$"):
        crypto.load_public_key(bytes(size))


# Secrets


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ],
)
def test_token_hash_is_sha256_hex(token, expected):
    assert crypto.token_hash(token) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("abc", "abcd", False),
        (b"abc", "abc", True),
        ("Zählerstand", "Zählerstand", True),
        ("Zählerstand", "Zahlerstand", False),
    ],
)
def test_constant_time_equal(a, b, expected):
    assert crypto.constant_time_equal(a, b) is expected


# The format document


@pytest.fixture
def sketch():
    """Run the Python sketch of docs/sealed-format.md and return its names."""
    text = FORMAT_DOC.read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    names = {}
    exec(compile(code, "<sketch in sealed-format.md>", "exec"), names)
    return names


def test_documented_sketch_opens_what_the_module_seals(sketch, private_key):
    data_key, values, data = crypto.new_data_key(), b'{"z": "1"}', payload(CHUNK)
    sealed = crypto.seal_data_key(
        data_key, private_key.public_key(), TENANT, SUBMISSION
    )
    blob = crypto.encrypt_values(data_key, TENANT, SUBMISSION, values)
    sealed_file = seal_file(data_key, data)

    opened = sketch["open_sealed_key"](private_key, sealed, TENANT, SUBMISSION)
    assert opened == data_key
    assert sketch["open_values"](data_key, blob, TENANT, SUBMISSION) == values
    assert sketch["open_file"](data_key, sealed_file, SUBMISSION, "file-a") == data
