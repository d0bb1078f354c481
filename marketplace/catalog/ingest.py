"""Read an uploaded data version, validate it chunk by chunk and store it encrypted.

No database and no Flask: the service hands in the received upload as a seekable file (a
sealed spool: it is never in clear on disk) and gets back the quality report. Memory stays
bounded by the chunk size: the file is parsed in blocks, each block is validated and appended
to an encrypted Parquet stream, and only small per-row hashes are kept for the checks that span
the whole file (uniqueness, unique individuals).
"""
import binascii
import hashlib
from collections.abc import Callable, Iterator
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
# Rows validated at a time: Great Expectations costs about a quarter of a second per call
# whatever the size, so chunks are as large as the memory bound comfortably allows.
CHUNK_ROWS = 131_072
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
            _check_formulas(table, columns, first_row=first_row)
            frame = table.to_pandas()
            del table  # keep one copy of the chunk alive while it is validated, not two
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


def _check_formulas(data: pa.Table | pa.RecordBatch, columns: list[dict], *,
                    first_row: int) -> None:
    """Refuse text cells that a spreadsheet would run as a formula (CSV injection), whether
    they arrive in a CSV or a Parquet file: either may end up opened in a spreadsheet.

    Runs on the Arrow chunk before it becomes pandas objects, so the test is one vectorised
    pass per column. The messages are Danish source text with their templates kept, so the
    edge can answer in the uploader's language.
    """
    errors = []
    for col in columns:
        if col["type"] not in ("string", "category"):
            continue
        hits = _formula_rows(data.column(col["name"]))
        if hits.size:
            rows = ", ".join(str(first_row + i) for i in hits[:EXAMPLE_ROWS])
            errors.append(field_error(
                col["name"], N_("celler begynder med =, +, -, @ eller tabulator (rækker {rows})"),
                rows=rows))
    if errors:
        raise Invalid(N_("Filen har celler, som et regneark ville køre som formler."),
                      errors=errors)


def _formula_rows(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Positions of the text values that start like a formula (a number never does)."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    hits, offset = [], 0
    for chunk in chunks:
        hits.append(np.flatnonzero(_formula_mask(chunk)) + offset)
        offset += len(chunk)
    return np.concatenate(hits) if hits else np.zeros(0, dtype=np.int64)


def _formula_mask(values: pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(values.type):
        # A Parquet dictionary column: test each distinct value once, as its text.
        labels = values.dictionary
        if not (pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type)):
            try:
                labels = pc.cast(labels, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return np.zeros(len(values), dtype=bool)  # no text form starts like a formula
        bad = _formula_mask(labels)
        if not bad.any():
            return np.zeros(len(values), dtype=bool)
        hit = pc.take(pa.array(bad), values.indices).fill_null(False)
        return hit.to_numpy(zero_copy_only=False)
    if not _is_text(values.type):
        return np.zeros(len(values), dtype=bool)  # numbers, and columns of nothing but nulls
    starts = pc.starts_with(values, FORMULA_PREFIXES[0])
    for prefix in FORMULA_PREFIXES[1:]:  # a few literal tests beat one regex three to one
        starts = pc.or_(starts, pc.starts_with(values, prefix))
    return starts.fill_null(False).to_numpy(zero_copy_only=False)


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
        _check_formulas(batch, columns, first_row=first_row)
        # Text stays in Arrow (no Python string per cell): a Parquet file's numbers arrive as
        # numbers, so only text and date columns are text here.
        frame = batch.to_pandas(date_as_object=False, types_mapper=_ARROW_TEXT.get)
        first_row += len(frame)
        yield frame


_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow")}


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


# The characters subject_keys drops: a hyphen and everything Python's `\s` calls whitespace
# (str.isspace), spelled out because Arrow's RE2 `\s` knows only ASCII whitespace.
OTHER_SPACES = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")) + "]"
CPR_SEPARATORS = "[- " + OTHER_SPACES[1:]
DIGEST_CACHE_ENTRIES = 1 << 19  # 20 MiB: half a million citizens


class DigestCache:
    """Blind-index digests of the CPR numbers already seen in an upload, so each citizen is
    hashed once however many rows they have.

    Kept as two sorted numpy arrays (the ten digits as an integer, the 32-byte digest): about
    40 bytes a citizen, bounded by `limit` entries (later citizens are then hashed per chunk).
    """

    def __init__(self, limit: int = DIGEST_CACHE_ENTRIES) -> None:
        self.limit = limit
        self.numbers = np.empty(0, dtype=np.int64)
        self.digests = np.empty((0, 32), dtype=np.uint8)

    def find(self, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return which `numbers` are known, and the positions of their digests."""
        if not len(self.numbers):
            return np.zeros(len(numbers), dtype=bool), np.zeros(len(numbers), dtype=np.intp)
        at = np.minimum(np.searchsorted(self.numbers, numbers), len(self.numbers) - 1)
        return self.numbers[at] == numbers, at

    def add(self, numbers: np.ndarray, digests: np.ndarray) -> None:
        room = self.limit - len(self.numbers)
        if room <= 0 or not len(numbers):
            return
        order = np.argsort(numbers[:room], kind="stable")
        numbers, digests = numbers[:room][order], digests[:room][order]
        at = np.searchsorted(self.numbers, numbers)
        self.numbers = np.insert(self.numbers, at, numbers)
        self.digests = np.insert(self.digests, at, digests, axis=0)


def subject_keys(cpr: pd.Series | pa.Array | pa.ChunkedArray, keyring: Keyring,
                 cache: DigestCache | None = None) -> tuple[pa.Array, np.ndarray]:
    """Blind-index each distinct CPR of a chunk once; return the keys and the 64-bit prefixes
    of the distinct keys.

    The keys (hex HMAC-SHA256, as keyring.blind_index) go into the stored version; the
    prefixes count unique individuals across chunks without keeping any strings. `cache`
    carries the digests from chunk to chunk.
    """
    text = cpr if isinstance(cpr, pa.Array | pa.ChunkedArray) else pa.array(
        cpr, type=pa.string(), from_pandas=True)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if not _is_text(text.type):
        text = pc.cast(text, pa.string())
    encoded = _cpr_digits(text).dictionary_encode()
    digests = _digests(encoded.dictionary, keyring.blind_index_key, cache or DigestCache(0))
    hexes = _hex_array(digests)
    keys = pc.take(hexes, encoded.indices)
    prefixes = np.ascontiguousarray(digests[:, :8]).view(np.uint64).ravel()
    return keys, prefixes


def _cpr_digits(text: pa.Array) -> pa.Array:
    """The text without hyphens and whitespace: exactly the ten digits normalise_cpr keeps,
    so keys equal the citizens' blind indexes."""
    if pc.any(pc.match_substring_regex(text, OTHER_SPACES)).as_py():
        return pc.replace_substring_regex(text, pattern=CPR_SEPARATORS, replacement="")
    # The usual spellings: plain replacements are ten times faster than a regex.
    return pc.replace_substring(pc.replace_substring(text, "-", ""), " ", "")


def _digests(distinct: pa.Array, key: bytes, cache: DigestCache) -> np.ndarray:
    """The HMAC-SHA256 digest of each value, as rows of 32 bytes."""
    out = np.empty((len(distinct), 32), dtype=np.uint8)
    # Ten ASCII digits (every valid CPR number) fit an int64 and can be cached compactly.
    plain = pc.match_substring_regex(distinct, "^[0-9]{10}$").fill_null(False)
    numbered = np.flatnonzero(plain.to_numpy(zero_copy_only=False))
    numbers = pc.cast(distinct.take(pa.array(numbered)), pa.int64()).to_numpy()
    known, at = cache.find(numbers)
    out[numbered[known]] = cache.digests[at[known]]
    fresh = np.ones(len(distinct), dtype=bool)
    fresh[numbered[known]] = False
    todo = np.flatnonzero(fresh)
    values = pc.cast(distinct.take(pa.array(todo)), pa.binary()).to_pylist()
    digest = _hmac_sha256(key)
    computed = b"".join([digest(value) for value in values])
    out[todo] = np.frombuffer(computed, dtype=np.uint8).reshape(-1, 32)
    cache.add(numbers[~known], out[numbered[~known]])
    return out


def _hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under `key` (RFC 2104, as hmac.digest) from two keyed SHA-256 states that
    are copied for each message: with OpenSSL 3 that is about twice as fast as hmac.digest,
    whose cost is nearly all per-call set-up for a ten-byte message."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block)).copy
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block)).copy

    def digest(message: bytes) -> bytes:
        state = inner()
        state.update(message)
        result = outer()
        result.update(state.digest())
        return result.digest()
    return digest


def _hex_array(digests: np.ndarray) -> pa.Array:
    """Lower-case hex text of each digest row, as one Arrow string array (no Python strings)."""
    text = binascii.hexlify(digests.tobytes())
    width = 2 * digests.shape[1]
    offsets = np.arange(0, width * (len(digests) + 1), width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(digests),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(text)])


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
        self.digests = DigestCache()

    def encode(self, chunks: Iterator[pd.DataFrame]) -> Iterator[bytes]:
        sink = ByteSink()
        with pq.ParquetWriter(sink, self.schema, compression="zstd") as writer:
            for raw in chunks:
                writer.write_table(self._table(self.quality.add(raw)))
                del raw
                yield sink.take()
        yield sink.take()

    def _keys(self, arrays: dict[str, pa.Array], rows: int) -> pa.Array:
        if self.subject_column is None:
            return pa.nulls(rows, pa.string())
        keys, prefixes = subject_keys(arrays[self.subject_column], self.keyring, self.digests)
        self.subject_hashes.append(prefixes)
        return keys

    def _table(self, frame: pd.DataFrame) -> pa.Table:
        arrays: dict[str, pa.Array] = {}
        for field in list(self.schema)[:-1]:
            values = frame[field.name]
            if field.type == pa.date32():
                days = values.to_numpy(dtype="datetime64[D]")
                arrays[field.name] = pa.array(days, type=field.type, mask=np.isnat(days))
            elif field.type == pa.int64():
                arrays[field.name] = pa.array(values.astype("Int64"), type=field.type)
            else:
                arrays[field.name] = pa.array(values, type=field.type, from_pandas=True)
        keys = self._keys(arrays, len(frame))
        return pa.Table.from_arrays([*arrays.values(), keys], schema=self.schema)

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
