"""Extract files: deterministic Parquet from released chunks, CSV on request, signed manifests.

Parquet output carries no timestamps and the rows' order is keyed by the permit, so rebuilding
an extract from the same data version under the same permit gives byte-identical files; the CSV
form is a pure function of the Parquet bytes, so its hash can be signed in the manifest too.
Text cells that a spreadsheet would run as a formula (`=HYPERLINK(...)`) are defused in the CSV
whatever the upload's format: CSV uploads refuse them, Parquet uploads could carry them.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from marketplace.streams import ByteSink

MANIFEST_FIELDS = ("extract_id", "permit_id", "dataset_id", "rows_in", "rows_out",
                   "rows_suppressed", "k", "columns", "sha256", "created_at", "signature",
                   "public_key",
                   # the anonymity assessment (see pipeline.Decision.manifest_fields)
                   "csv_sha256", "generalisation", "rows_dropped", "persons_in",
                   "persons_suppressed", "k_required", "datasets_assessed", "risk",
                   "risk_before")
_CSV_BATCH_ROWS = 100_000
# Cells starting with one of these are formulas to spreadsheets (OWASP "CSV injection").
_FORMULA_START = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class ParquetFile:
    data: pa.Buffer
    rows: int
    columns: list[dict[str, str]]


def _stable_schema(table: pa.Table) -> pa.Schema:
    """Dictionary columns get int32 indices whatever a chunk's dictionary size."""
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), pa.large_string()))
        if pa.types.is_dictionary(f.type)
        else f
        for f in table.schema
    ]
    return pa.schema(fields, metadata=table.schema.metadata)


def write_parquet(frames: Iterable[pd.DataFrame]) -> ParquetFile:
    """Write frames (same columns) into one in-memory Parquet file, one row group per frame."""
    stream = ParquetStream(frames)
    data = bytearray()
    for piece in stream:
        data += piece
    return ParquetFile(data=pa.py_buffer(data), rows=stream.rows, columns=stream.columns)


class ParquetStream:
    """Iterate to get the Parquet file of `frames` (one row group per frame) piece by piece,
    holding one frame at a time; `rows` and `columns` describe it once iteration has ended."""

    def __init__(self, frames: Iterable[pd.DataFrame]) -> None:
        self._frames = frames
        self.rows = 0
        self.columns: list[dict[str, str]] = []

    def __iter__(self) -> Iterator[bytes]:
        sink = ByteSink()
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        for frame in self._frames:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                schema = _stable_schema(table)
                writer = pq.ParquetWriter(sink, schema, compression="zstd")
            table = _conform(table, schema)
            if table.num_rows or self.rows == 0:
                writer.write_table(table)
            self.rows += table.num_rows
            if piece := sink.take():
                yield piece
        if writer is None:
            raise ValueError("no frames to write")
        writer.close()
        self.columns = schema_columns(schema)
        yield sink.take()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_dictionary(field.type) and not pa.types.is_dictionary(column.type):
            column = column.cast(pa.large_string()).dictionary_encode()
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def schema_columns(schema: pa.Schema) -> list[dict[str, str]]:
    """Describe a schema for the manifest: name and a plain type name per column."""
    def plain(t: pa.DataType) -> str:
        if pa.types.is_dictionary(t):
            return "string"
        if pa.types.is_integer(t):
            return "integer"
        if pa.types.is_floating(t):
            return "number"
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return "date"
        if pa.types.is_boolean(t):
            return "boolean"
        return "string"

    return [{"name": f.name, "type": plain(f.type)} for f in schema]


def defuse_formulas(values: pa.Array) -> pa.Array:
    """Prefix an apostrophe to text cells that spreadsheets would run as formulas."""
    if pa.types.is_dictionary(values.type):
        return pa.DictionaryArray.from_arrays(values.indices, defuse_formulas(values.dictionary))
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values
    risky = pc.match_substring_regex(values, _FORMULA_START)
    if not pc.any(risky).as_py():
        return values
    return pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = []
    for column in batch.columns:
        column = defuse_formulas(column)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def parquet_to_csv(data: pa.Buffer | bytes) -> Iterator[bytes]:
    """Convert an extract's Parquet bytes to UTF-8 CSV, batch by batch, formulas defused."""
    parquet = pq.ParquetFile(pa.BufferReader(data))
    names = [f.name for f in parquet.schema_arrow]
    yield pd.DataFrame(columns=names).to_csv(index=False).encode("utf-8")
    for batch in parquet.iter_batches(batch_size=_CSV_BATCH_ROWS):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(_csv_ready(batch), sink,
                        write_options=pacsv.WriteOptions(include_header=False))
        yield sink.getvalue().to_pybytes()


def csv_sha256(data: pa.Buffer | bytes) -> str:
    """The SHA-256 of the CSV form of an extract's Parquet bytes (what a CSV download sends)."""
    digest = hashlib.sha256()
    for piece in parquet_to_csv(data):
        digest.update(piece)
    return digest.hexdigest()


def canonical_bytes(manifest: dict[str, Any]) -> bytes:
    """The signed form: the manifest without `signature`, sorted keys, no spaces."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sign_manifest(manifest: dict[str, Any], *, key: Ed25519PrivateKey,
                  public_key_b64: str) -> dict[str, Any]:
    """Return the manifest with its public key and Ed25519 signature (both base64)."""
    signed = {**manifest, "public_key": public_key_b64}
    signed["signature"] = base64.b64encode(key.sign(canonical_bytes(signed))).decode()
    return signed


def verify_manifest(manifest: dict[str, Any], *, public_key_b64: str) -> bool:
    """Tell whether the manifest's signature verifies under the given public key."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(manifest["signature"]), canonical_bytes(manifest))
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True
