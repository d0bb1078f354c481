"""Read an uploaded data version, validate it chunk by chunk and store it encrypted.

No database and no Flask: the service hands in the received upload as a seekable file (a
sealed spool: it is never in clear on disk) and gets back the quality report. Memory stays
bounded by the chunk size: the file is parsed in blocks, each block is validated and appended
to an encrypted Parquet stream, and only small per-row hashes are kept for the checks that span
the whole file (uniqueness, unique individuals).
"""
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from marketplace.catalog.quality import QualityAccumulator
from marketplace.errors import Invalid
from marketplace.languages import N_
from marketplace.security import Keyring
from marketplace.streams import ByteSink, gather

CSV_TYPES = ("text/csv", "application/csv")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet",
                 "application/octet-stream")
SUBJECT_KEY = "_subject_key"
CSV_BLOCK_BYTES = 1 << 20
CHUNK_ROWS = 65_536
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Excel's "CSV UTF-8" starts the file with a UTF-8 byte-order mark; UTF-16 is another encoding.
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
EXAMPLE_ROWS = 5
NO_ROWS = N_("Filen har ingen rækker, kun en overskrift. Den gældende dataversion er uændret.")
ARROW_TYPES = {"string": pa.string(), "category": pa.string(), "integer": pa.int64(),
               "number": pa.float64(), "date": pa.date32()}


@dataclass(frozen=True)
class IngestResult:
    report: dict
    sha256: str | None
    number_of_rows: int


def field_error(field: str, template: str, **values: Any) -> dict[str, Any]:
    """One entry of a refusal's `errors`: Danish source text with its template and values kept,
    so the answer can translate it into the uploader's language."""
    return {"field": field, "message": template.format(**values) if values else template,
            "template": template, "values": values}


def refused(template: str, **values: Any) -> Invalid:
    """Refuse the file as a whole; its one error says the same, so a program that reads only
    `errors` learns what is wrong too."""
    return Invalid(template, errors=[field_error("data", template, **values)], **values)


def detect_format(media_type: str, head: bytes) -> str:
    """Return "csv" or "parquet" from the Content-Type and the file's first bytes."""
    media_type = (media_type or "").split(";")[0].strip().lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if media_type in CSV_TYPES:
        return "csv"
    if media_type in PARQUET_TYPES:
        raise refused(N_("Filen er ikke en Parquet-fil."))
    raise refused(N_("Send data som text/csv eller application/vnd.apache.parquet."))


def read_csv_chunks(source: BinaryIO, columns: list[dict]) -> Iterator[pd.DataFrame]:
    """Yield the CSV file as text columns, block by block; raise Invalid on malformed input.

    A UTF-8 byte-order mark (Excel's "CSV UTF-8") is skipped, so the first column's name is
    read without it; UTF-16 is refused.
    """
    head = _head(source)
    if head.startswith(UTF16_BOMS):
        raise refused(N_("Filen er gemt som UTF-16 (den begynder med et UTF-16-bytemærke). "
                         "Gem den som CSV UTF-8."))
    start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    head = head[start:]
    first_line = head.split(b"\n", 1)[0]
    delimiter = ";" if first_line.count(b";") > first_line.count(b",") else ","
    ragged: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        ragged.append(row.number)
        return "skip"

    names = [c["name"] for c in columns]
    source.seek(start)  # the reader starts where the source stands: after the mark
    try:
        reader = pacsv.open_csv(
            source,
            # Small blocks: the reader reads several blocks ahead, so the block size sets the
            # memory it holds; blocks are gathered into chunks of CHUNK_ROWS for validation.
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                              invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True, null_values=[""], check_utf8=True),
        )
        _check_header(reader.schema.names, names)
        first_row = 1
        for table in _gathered(reader, ragged):
            frame = table.to_pandas()
            del table  # keep one copy of the chunk alive while it is validated, not two
            _check_formulas(frame, columns, first_row=first_row)
            first_row += len(frame)
            yield frame
            del frame
    except pa.ArrowInvalid as exc:
        raise _unreadable_csv(str(exc), has_text=bool(head.strip())) from None
    if ragged:
        rows = ", ".join(str(n) for n in ragged[:EXAMPLE_ROWS])
        raise Invalid(N_("Nogle rækker har et forkert antal felter (linje {rows})."), rows=rows,
                      errors=[field_error("data", N_("forkert antal felter i linje {line}"),
                                          line=n) for n in ragged[:EXAMPLE_ROWS]])


def _gathered(reader: pacsv.CSVStreamingReader, ragged: list[int]) -> Iterator[pa.Table]:
    """Group the reader's record batches into tables of about CHUNK_ROWS rows."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        if ragged:
            return
        batches.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            table = pa.Table.from_batches(batches)
            batches, rows = [], 0
            yield table
            del table
    if batches and not ragged:
        yield pa.Table.from_batches(batches)


def _head(source: BinaryIO) -> bytes:
    source.seek(0)
    head = source.read(4096)
    source.seek(0)
    return head


def _check_header(found: list[str], expected: list[str]) -> None:
    errors = [field_error(name, N_("kolonnen mangler i filen"))
              for name in expected if name not in found]
    unknown = [name for name in found if name not in expected]
    if unknown:
        # Never echo the names: a file without a header row would put a CPR or name here.
        errors.append(field_error("header", N_("{count} kolonne(r) findes ikke i "
                                               "kolonneoversigten (mangler overskriftsrækken?)"),
                                  count=len(unknown)))
    if len(set(found)) != len(found):
        errors.append(field_error("header", N_("et kolonnenavn står to gange")))
    if errors:
        raise Invalid(N_("Filens kolonner passer ikke med kolonneoversigten."), errors=errors)


def _check_formulas(frame: pd.DataFrame, columns: list[dict], *, first_row: int) -> None:
    """Refuse text cells that a spreadsheet would run as a formula (CSV injection), whether
    they arrive in a CSV or a Parquet file: either may end up opened in a spreadsheet.

    The messages are Danish source text with their templates kept, so the edge can answer in
    the uploader's language.
    """
    errors = []
    for col in columns:
        if col["type"] not in ("string", "category"):
            continue
        hits = _formula_rows(frame[col["name"]])
        if hits.size:
            rows = ", ".join(str(first_row + i) for i in hits[:EXAMPLE_ROWS])
            errors.append(field_error(
                col["name"], N_("celler begynder med =, +, -, @ eller tabulator (rækker {rows})"),
                rows=rows))
    if errors:
        raise Invalid(N_("Filen har celler, som et regneark ville køre som formler."),
                      errors=errors)


def _formula_rows(values: pd.Series) -> np.ndarray:
    """Positions of the text values that start like a formula (a number never does)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # A Parquet dictionary column: test each distinct value once.
        labels = pd.Series(values.cat.categories.astype(str))
        bad = labels.str.startswith(FORMULA_PREFIXES).to_numpy(dtype=bool)
        codes = values.cat.codes.to_numpy()
        if not len(bad):
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.where(codes >= 0, bad[np.maximum(codes, 0)], False))
    if not (pd.api.types.is_object_dtype(values.dtype)
            or pd.api.types.is_string_dtype(values.dtype)):
        return np.zeros(0, dtype=np.int64)
    starts = values.str.startswith(FORMULA_PREFIXES)
    return np.flatnonzero(starts.astype("boolean").fillna(False).to_numpy(dtype=bool))


def _unreadable_csv(message: str, *, has_text: bool) -> Invalid:
    """The refusal for a file Arrow cannot parse, without any of the file's cells."""
    if "UTF8" in message or "utf8" in message.lower():
        return refused(N_("Filen er ikke gyldig UTF-8-tekst. Gem den som CSV UTF-8."))
    if "Empty CSV file" in message:
        # Arrow reads a lone line without a line break as no file at all: a header alone.
        return refused(NO_ROWS) if has_text else refused(N_("Filen er tom."))
    if message.count(":") >= 2:
        # Arrow quotes the offending row; keep only its explanation so no cell value is echoed.
        return refused(N_("CSV-filen kunne ikke læses: {reason}"),
                       reason=message.split(":", 2)[1].strip()[:200])
    return refused(N_("CSV-filen kunne ikke læses."))


def read_parquet_chunks(source: BinaryIO, columns: list[dict]) -> Iterator[pd.DataFrame]:
    """Yield the Parquet file in batches; raise Invalid when its schema does not fit."""
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError):
        raise refused(N_("Filen er ikke en læsbar Parquet-fil.")) from None
    schema = parquet.schema_arrow
    _check_header(schema.names, [c["name"] for c in columns])
    errors = []
    for col in columns:
        found = schema.field(col["name"]).type
        if not _compatible(col["type"], found):
            errors.append(field_error(col["name"], N_("har typen {found}, kolonneoversigten "
                                                      "siger {expected}"),
                                      found=str(found), expected=col["type"]))
    if errors:
        raise Invalid(N_("Parquet-skemaet passer ikke med kolonneoversigten."), errors=errors)
    names = [c["name"] for c in columns]
    first_row = 1
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=names):
        frame = batch.to_pandas(date_as_object=False)
        _check_formulas(frame, columns, first_row=first_row)
        first_row += len(frame)
        yield frame


def _compatible(kind: str, found: pa.DataType) -> bool:
    if pa.types.is_null(found):
        return True
    if kind == "integer":
        return pa.types.is_integer(found)
    if kind == "number":
        return pa.types.is_integer(found) or pa.types.is_floating(found)
    if kind == "date":
        return pa.types.is_date(found) or pa.types.is_timestamp(found) or _is_text(found)
    return _is_text(found) or pa.types.is_integer(found) or pa.types.is_dictionary(found)


def _is_text(found: pa.DataType) -> bool:
    return pa.types.is_string(found) or pa.types.is_large_string(found)


def subject_keys(cpr: pd.Series, keyring: Keyring) -> tuple[pa.Array, np.ndarray]:
    """Blind-index each distinct CPR of a chunk once; return the keys and 64-bit prefixes.

    The keys (hex HMAC-SHA256, as keyring.blind_index) go into the stored version; the
    prefixes count unique individuals across chunks without keeping any strings.
    """
    key = keyring.blind_index_key
    # Exactly the ten digits normalise_cpr keeps, so keys equal the citizens' blind indexes.
    digits = cpr.str.replace(r"[-\s]", "", regex=True)
    codes, distinct = pd.factorize(digits)
    digests = [hmac.new(key, value.encode(), hashlib.sha256).digest() for value in distinct]
    hexes = pa.array([d.hex() for d in digests], type=pa.string())
    prefixes = np.frombuffer(b"".join(d[:8] for d in digests), dtype=np.uint64)
    present = codes >= 0
    keys = pc.take(hexes, pa.array(np.where(present, codes, 0))) if len(digests) else \
        pa.nulls(len(codes), pa.string())
    keys = pc.if_else(pa.array(present), keys, pa.scalar(None, pa.string()))
    return keys, prefixes[codes[present]] if len(digests) else np.empty(0, np.uint64)


class VersionWriter:
    """Validates chunks and encodes them as one Parquet stream with the subject keys."""

    def __init__(self, columns: list[dict], *, subject_column: str | None,
                 keyring: Keyring) -> None:
        self.columns = columns
        self.subject_column = subject_column
        self.keyring = keyring
        self.quality = QualityAccumulator(columns)
        self.schema = pa.schema([(c["name"], ARROW_TYPES[c["type"]]) for c in columns]
                                + [(SUBJECT_KEY, pa.string())])
        self.subject_hashes: list[np.ndarray] = []

    def encode(self, chunks: Iterator[pd.DataFrame]) -> Iterator[bytes]:
        sink = ByteSink()
        with pq.ParquetWriter(sink, self.schema, compression="zstd") as writer:
            for raw in chunks:
                writer.write_table(self._table(self.quality.add(raw)))
                del raw
                yield sink.take()
        yield sink.take()

    def _keys(self, frame: pd.DataFrame) -> pa.Array:
        if self.subject_column is None:
            return pa.nulls(len(frame), pa.string())
        keys, prefixes = subject_keys(frame[self.subject_column], self.keyring)
        self.subject_hashes.append(prefixes)
        return keys

    def _table(self, frame: pd.DataFrame) -> pa.Table:
        arrays = []
        for field in list(self.schema)[:-1]:
            values = frame[field.name]
            if field.type == pa.date32():
                days = values.to_numpy(dtype="datetime64[D]")
                arrays.append(pa.array(days, type=field.type, mask=np.isnat(days)))
            elif field.type == pa.int64():
                arrays.append(pa.array(values.astype("Int64"), type=field.type))
            else:
                arrays.append(pa.array(values, type=field.type, from_pandas=True))
        arrays.append(self._keys(frame))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def report(self) -> dict:
        report = self.quality.finish()
        hashes = np.concatenate(self.subject_hashes) if self.subject_hashes else None
        report["facts"]["number_of_unique_individuals"] = (
            int(np.unique(hashes).size) if hashes is not None else None)
        return report


def ingest(source: BinaryIO, *, media_type: str, columns: list[dict], subject_column: str | None,
           keyring: Keyring, target: Path, context: str) -> IngestResult:
    """Validate the upload at `source`; keep it encrypted at `target` only when valid.

    Raises Invalid when the file cannot be read at all (malformed CSV, wrong Parquet schema)
    or holds no data (no rows, every cell empty); returns the report, with `valid` false, when
    it reads but fails expectations.
    """
    head = _head(source)
    kind = detect_format(media_type, head)
    if not head:
        raise refused(N_("Filen er tom."))
    chunks = (read_csv_chunks if kind == "csv" else read_parquet_chunks)(source, columns)
    writer = VersionWriter(columns, subject_column=subject_column, keyring=keyring)
    sha256 = keyring.write_encrypted(target, writer.encode(chunks), context=context)
    try:
        require_data(writer.quality, columns)
    except Invalid:
        target.unlink(missing_ok=True)
        raise
    report = writer.report()
    report["format"] = kind
    if not report["valid"]:
        target.unlink(missing_ok=True)
    return IngestResult(report=report, sha256=sha256 if report["valid"] else None,
                        number_of_rows=report["row_count"])


def require_data(quality: QualityAccumulator, columns: list[dict]) -> None:
    """Refuse a version without data, so it never replaces one that has: no rows (a header
    alone), every cell empty, or only identifiers (every other column empty: an export whose
    data columns went missing)."""
    if quality.rows == 0:
        raise refused(NO_ROWS)
    empty = set(quality.empty_columns())
    if len(empty) == len(columns):
        raise refused(N_("Alle celler i filen er tomme. Den gældende dataversion er uændret."))
    data_columns = [c["name"] for c in columns if c.get("role") != "direct_identifier"]
    if data_columns and empty.issuperset(data_columns):
        raise Invalid(N_("Filen har kun identifikatorer: alle andre kolonner er tomme. Den "
                         "gældende dataversion er uændret."),
                      errors=[field_error(name, N_("kolonnen er tom i alle rækker"))
                              for name in data_columns])


def decrypt_to_buffer(keyring: Keyring, path: Path, *, context: str) -> pa.Buffer:
    """Decrypt a stored file into one preallocated buffer (the plaintext is never held twice).

    Raises Invalid when the file was tampered with or truncated.
    """
    # The ciphertext is longer than the plaintext, so its size bounds the buffer.
    return gather(keyring.read_encrypted(path, context=context), capacity=path.stat().st_size)


def read_frames(plaintext: pa.Buffer | bytes, *, columns: list[str] | None,
                batch_rows: int) -> Iterator[pd.DataFrame]:
    """Yield a stored version's Parquet bytes as DataFrames of at most `batch_rows` rows.

    Text columns arrive as categoricals: Arrow reads them as dictionaries and `frame_from_arrow`
    hands the dictionary to pandas once instead of converting every value.
    """
    schema = pq.read_schema(pa.BufferReader(plaintext))
    text = [f.name for f in schema
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    parquet = pq.ParquetFile(pa.BufferReader(plaintext), read_dictionary=text)
    pending: list[pa.RecordBatch] = []
    rows = 0
    # Batches end at row groups (one per upload chunk, so small): join them up to batch_rows.
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= batch_rows:
            yield _joined_frame(pending)
            pending, rows = [], 0
    if pending:
        yield _joined_frame(pending)


def _joined_frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    if len(batches) == 1:
        return frame_from_arrow(batches[0])
    table = pa.Table.from_batches(batches).unify_dictionaries().combine_chunks()
    return frame_from_arrow(table.to_batches()[0])


def frame_from_arrow(batch: pa.RecordBatch) -> pd.DataFrame:
    """Convert an Arrow batch to pandas, keeping dictionary columns categorical without paying
    pandas' per-value conversion of large dictionaries (such as 300,000 subject keys)."""
    columns = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            if len(column.dictionary) > len(column):
                # A batch carries its whole row group's dictionary: keep the values it uses.
                column = column.dictionary_decode().dictionary_encode()
            categories = pd.Index(pd.array(column.dictionary, dtype="str"))
            codes = column.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            columns[name] = pd.Categorical.from_codes(
                codes, dtype=pd.CategoricalDtype(categories), validate=False)
        else:
            columns[name] = column.to_pandas(date_as_object=False)
    return pd.DataFrame(columns, index=pd.RangeIndex(batch.num_rows))
