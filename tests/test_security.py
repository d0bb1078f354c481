"""Keys, sealing, encrypted files and log redaction."""

import logging
from pathlib import Path

import pytest

from marketplace.errors import Invalid
from marketplace.security import CprRedactingFilter, Keyring

KEYRING = Keyring(bytes(range(32)))


def test_blind_index_is_keyed_and_stable() -> None:
    other = Keyring(bytes(32))
    assert KEYRING.blind_index("070385-1234") == KEYRING.blind_index("0703851234")
    assert KEYRING.blind_index("0703851234") != other.blind_index("0703851234")
    assert "0703851234" not in KEYRING.blind_index("0703851234")


def test_seal_binds_the_context() -> None:
    token = KEYRING.seal(b"0703851234", context="citizen-cpr")
    assert KEYRING.open(token, context="citizen-cpr") == b"0703851234"
    with pytest.raises(Invalid):
        KEYRING.open(token, context="something-else")
    with pytest.raises(Invalid):
        KEYRING.open(token[:-1] + bytes([token[-1] ^ 1]), context="citizen-cpr")


def test_derived_keys_differ_per_purpose() -> None:
    assert KEYRING.derive("permit:1:pseudonym") != KEYRING.derive("permit:2:pseudonym")


@pytest.mark.parametrize("size", [0, 10, (1 << 20), (1 << 20) * 2 + 17])
def test_encrypted_files_round_trip(tmp_path: Path, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    path = tmp_path / "f.enc"
    digest = KEYRING.write_encrypted(path, [data[i:i + 70_000] for i in range(0, size, 70_000)],
                                     context="test")
    assert KEYRING.read_encrypted_bytes(path, context="test") == data
    assert len(digest) == 64
    assert data[:1000] not in path.read_bytes() or size == 0


def test_tampered_and_truncated_files_are_refused(tmp_path: Path) -> None:
    data = bytes(3 * (1 << 20))
    path = tmp_path / "f.enc"
    KEYRING.write_encrypted(path, [data], context="test")
    raw = path.read_bytes()
    truncated = tmp_path / "t.enc"
    # Cut exactly after the first segment: every remaining segment boundary must still be caught.
    segment = 8 + 4 + 12 + (1 << 20) + 16
    truncated.write_bytes(raw[:segment])
    with pytest.raises(Invalid):
        KEYRING.read_encrypted_bytes(truncated, context="test")
    tampered = tmp_path / "x.enc"
    tampered.write_bytes(raw[:100] + bytes([raw[100] ^ 1]) + raw[101:])
    with pytest.raises(Invalid):
        KEYRING.read_encrypted_bytes(tampered, context="test")
    with pytest.raises(Invalid):
        KEYRING.read_encrypted_bytes(path, context="another-file")


def test_log_records_never_carry_a_cpr() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "citizen %s signed in",
                               ("070385-1234",), None)
    CprRedactingFilter().filter(record)
    assert "070385" not in record.getMessage()
    assert "[CPR]" in record.getMessage()


def test_a_sealed_spool_holds_only_ciphertext_on_disk_and_reads_back_anywhere(
        tmp_path: Path) -> None:
    from marketplace.security import SealedSpool

    data = b"".join(b"0703851234,%07d\n" % i for i in range(200_000))  # several segments
    spool = SealedSpool(tmp_path)
    for start in range(0, len(data), 65_536):
        spool.write(data[start:start + 65_536])
    assert list(tmp_path.iterdir()) == []  # the file has no name: nothing outlives the process
    assert spool.size == len(data)
    spool.seek(0)
    assert spool.read() == data
    for position in (0, 1, (1 << 20) - 3, len(data) - 10, len(data) + 5):
        spool.seek(position)
        assert spool.read(7) == data[position:position + 7]
    spool.seek(-4, 2)
    assert spool.read() == data[-4:]
    on_disk = Path(f"/proc/self/fd/{spool._file.fileno()}").read_bytes()
    assert b"0703851234" not in on_disk and len(on_disk) > len(data)
    spool.close()
    with pytest.raises(ValueError):
        spool.read()
