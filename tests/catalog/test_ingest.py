"""Reading stored data versions back: one plaintext buffer, batches joined across row groups."""
from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from marketplace.catalog import ingest
from marketplace.errors import Invalid
from marketplace.security import Keyring

KEYRING = Keyring(bytes(range(32)))


def _parquet(groups: int, rows: int) -> bytes:
    sink = io.BytesIO()
    writer = None
    for group in range(groups):
        table = pa.table({
            "diagnosis": [f"DJ4{(group * rows + i) % 7}" for i in range(rows)],
            "days": list(range(group * rows, (group + 1) * rows)),
        })
        writer = writer or pq.ParquetWriter(sink, table.schema)
        writer.write_table(table)
    writer.close()
    return sink.getvalue()


def test_small_row_groups_are_joined_into_batches_with_text_as_categories():
    data = _parquet(groups=5, rows=10_000)
    frames = list(ingest.read_frames(pa.py_buffer(data), columns=None, batch_rows=25_000))
    # Arrow alone gives six batches here (each row group's rest is a batch of its own).
    assert [len(f) for f in frames] == [25_000, 25_000]
    assert all(isinstance(f["diagnosis"].dtype, pd.CategoricalDtype) for f in frames)
    whole = pq.read_table(io.BytesIO(data)).to_pandas()
    joined = pd.concat([f.astype({"diagnosis": str}) for f in frames], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)


def test_decrypting_fills_one_buffer_and_refuses_tampering(tmp_path):
    data = _parquet(groups=3, rows=1000) * 50  # several encrypted segments
    path = tmp_path / "version.enc"
    KEYRING.write_encrypted(path, [data], context="catalog/data-version/x")
    buffer = ingest.decrypt_to_buffer(KEYRING, path, context="catalog/data-version/x")
    assert isinstance(buffer, pa.Buffer) and buffer.to_pybytes() == data
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(Invalid):
        ingest.decrypt_to_buffer(KEYRING, path, context="catalog/data-version/x")


@pytest.mark.parametrize("written", [" 010101-1234", "010101-1234 ", "010101 1234", "0101011234"])
def test_subject_keys_equal_the_citizens_blind_index(written):
    keyring = Keyring(bytes(range(32)))
    keys, _prefixes = ingest.subject_keys(pd.Series([written]), keyring)
    assert keys[0].as_py() == keyring.blind_index("0101011234")
