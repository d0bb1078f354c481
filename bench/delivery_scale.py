"""Benchmark: a 10,000,000-row data version through the extract pipeline in bounded memory.

The data version (10,000,000 admissions of 1,000,000 citizens; 1,000,000 rows with --quick) is
written encrypted at rest as the catalog stores it. A fresh process then decrypts it, streams it
through both pipeline passes in chunks and streams the extract's Parquet into an encrypted file,
with the catalog's reader and the extract job's writer; its peak resident memory
(ru_maxrss) is the figure, with a 2 GB budget. Arrow uses the system allocator in these
processes (as `ARROW_DEFAULT_MEMORY_POOL=system` does for a worker). The baseline, in another
fresh process in the same run, is what a straightforward job does first: load the whole
decrypted table into one pandas DataFrame (nothing else).

    .venv/bin/python bench/delivery_scale.py [--quick]
"""
import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from marketplace.catalog import ingest
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import DataVersion
from marketplace.delivery import output, pipeline, synthetic
from marketplace.security import Keyring

KEYRING = Keyring(bytes(range(32)))
BUDGET_MB = 2048
CHUNK_ROWS = 1_000_000
BATCH_ROWS = 250_000
PERMITTED = ("cpr", "birth_date", "sex", "postcode", "admission_date", "diagnosis",
             "length_of_stay")


def generate(path: Path, rows: int) -> None:
    people = synthetic.population(rows // 10, seed=5, blind_index_key=KEYRING.blind_index_key)
    sink = io.BytesIO()
    writer = None
    for number, start in enumerate(range(0, rows, CHUNK_ROWS)):
        frame = synthetic.admissions_of(people, min(CHUNK_ROWS, rows - start), seed=number)
        table = stored_form(pa.Table.from_pandas(frame, preserve_index=False))
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
        # Row groups as small as the catalog's upload writes them.
        writer.write_table(table.cast(writer.schema), row_group_size=ingest.CHUNK_ROWS)
    writer.close()
    data = sink.getbuffer()
    KEYRING.write_encrypted(path, (bytes(data[i:i + (1 << 20)])
                                   for i in range(0, len(data), 1 << 20)), context=context(path))


def stored_form(table: pa.Table) -> pa.Table:
    """Text columns as plain strings, as the catalog's upload stores them (a categorical would
    write its whole dictionary into every row group)."""
    return table.cast(pa.schema([
        pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
        for f in table.schema]))


def stored_version(path: Path, rows: int) -> DataVersion:
    """The data version as the catalog records it (not saved: the reader needs path and size)."""
    return DataVersion(path=path.name, number_of_rows=rows)


def run_pipeline(path: Path, rows: int) -> dict:
    plan = pipeline.ExtractPlan(
        columns=synthetic.ADMISSION_COLUMNS, subject_column="cpr", permitted=PERMITTED,
        cohort={}, k=5, reference_date=date(2025, 6, 1), pseudonym_key=b"p" * 32,
        date_shift_key=b"s" * 32)
    version = stored_version(path, rows)

    def frames():
        return catalog_services.read_version_frames(
            version, keyring=KEYRING, data_dir=path.parent, columns=plan.input_columns,
            batch_rows=BATCH_ROWS)

    released = pipeline.run_pandas(frames, plan)
    # As the extract job does: chunk by chunk through the Parquet writer into an encrypted file.
    result = output.ParquetStream(chunk.frame for chunk in released.chunks)
    out = path.with_name("extract.parquet.enc")
    KEYRING.write_encrypted(out, result, context="bench/extract")
    return {"rows_out": result.rows, "bytes_out": out.stat().st_size,
            "rows_suppressed": released.decision.anonymisation.rows_suppressed}


def load_whole(path: Path) -> dict:
    plaintext = ingest.decrypt_to_buffer(KEYRING, path, context=context(path))
    frame = pd.read_parquet(pa.BufferReader(plaintext))
    return {"rows": len(frame)}


def context(path: Path) -> str:
    return catalog_services.version_context(path.name)


def child(step: str, path: Path, rows: int) -> None:
    # The system allocator hands freed memory back to the OS; Arrow's default pool keeps it.
    pa.set_memory_pool(pa.system_memory_pool())
    start = time.perf_counter()
    result = {"generate": lambda: generate(path, rows) or {},
              "pipeline": lambda: run_pipeline(path, rows),
              "whole": lambda: load_whole(path)}[step]()
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def in_fresh_process(step: str, path: Path, rows: int) -> dict:
    run = subprocess.run([sys.executable, __file__, "--child", step, "--path", str(path),
                          "--rows", str(rows)], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows")
    parser.add_argument("--child", choices=("generate", "pipeline", "whole"))
    parser.add_argument("--path", type=Path)
    parser.add_argument("--rows", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.rows)
        return
    rows = 1_000_000 if args.quick else 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "version.parquet.enc"
        made = in_fresh_process("generate", path, rows)
        size = path.stat().st_size / 1e6
        print(f"data version: {rows:,} rows of {rows // 10:,} citizens, {size:.0f} MB encrypted "
              f"(generated in {made['seconds']:.0f} s)")
        streamed = in_fresh_process("pipeline", path, rows)
        whole = in_fresh_process("whole", path, rows)
    print(f"pipeline, streamed in {BATCH_ROWS:,}-row chunks: {streamed['seconds']:6.1f} s  "
          f"{rows / streamed['seconds'] / 1e6:.2f} M rows/s  peak {streamed['peak_mb']:6.0f} MB  "
          f"({streamed['rows_out']:,} rows out, {streamed['rows_suppressed']:,} suppressed)")
    print(f"baseline, whole table loaded into pandas:   {whole['seconds']:6.1f} s  "
          f"peak {whole['peak_mb']:6.0f} MB (load only)")
    print(f"RATIO pipeline peak / budget {BUDGET_MB} MB: {streamed['peak_mb'] / BUDGET_MB:.2f} "
          f"({'within' if streamed['peak_mb'] < BUDGET_MB else 'OVER'} budget)")
    print(f"RATIO pipeline peak / whole-table load peak: "
          f"{streamed['peak_mb'] / whole['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
