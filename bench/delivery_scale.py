"""Benchmark: a 10,000,000-row data version through the extract pipeline in bounded memory.

The data version (10,000,000 admissions of 1,000,000 citizens; 1,000,000 rows with --quick) is
written encrypted at rest as the catalog stores it. A fresh process then decrypts it, streams it
through both pipeline passes in chunks and writes the extract's Parquet; its peak resident memory
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

from marketplace.delivery import output, pipeline, synthetic
from marketplace.security import Keyring

KEYRING = Keyring(bytes(range(32)))
CONTEXT = "bench/data-version"
BUDGET_MB = 2048
CHUNK_ROWS = 1_000_000
BATCH_ROWS = 250_000
PERMITTED = ("cpr", "birth_date", "sex", "postcode", "admission_date", "diagnosis",
             "length_of_stay")
STRINGS = ["sex", "postcode", "diagnosis", "_subject_key"]


def generate(path: Path, rows: int) -> None:
    people = synthetic.population(rows // 10, seed=5, blind_index_key=KEYRING.blind_index_key)
    sink = io.BytesIO()
    writer = None
    for number, start in enumerate(range(0, rows, CHUNK_ROWS)):
        frame = synthetic.admissions_of(people, min(CHUNK_ROWS, rows - start), seed=number)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
        writer.write_table(table.cast(writer.schema), row_group_size=CHUNK_ROWS)
    writer.close()
    data = sink.getbuffer()
    KEYRING.write_encrypted(path, (bytes(data[i:i + (1 << 20)])
                                   for i in range(0, len(data), 1 << 20)), context=CONTEXT)


def decrypt(path: Path) -> pa.Buffer:
    """Decrypt into one preallocated buffer (the plaintext is never held twice)."""
    buffer = bytearray(path.stat().st_size)  # the ciphertext is longer than the plaintext
    view, filled = memoryview(buffer), 0
    for segment in KEYRING.read_encrypted(path, context=CONTEXT):
        view[filled:filled + len(segment)] = segment
        filled += len(segment)
    return pa.py_buffer(buffer).slice(0, filled)


def run_pipeline(path: Path) -> dict:
    plan = pipeline.ExtractPlan(
        columns=synthetic.ADMISSION_COLUMNS, subject_column="cpr", permitted=PERMITTED,
        cohort={}, k=5, reference_date=date(2025, 6, 1), pseudonym_key=b"p" * 32,
        date_shift_key=b"s" * 32)
    plaintext = decrypt(path)

    def frames():
        parquet = pq.ParquetFile(pa.BufferReader(plaintext), read_dictionary=STRINGS)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=plan.input_columns):
            yield pipeline.frame_from_arrow(batch)

    released = pipeline.run_pandas(frames, plan)
    result = output.write_parquet(chunk.frame for chunk in released.chunks)
    return {"rows_out": result.rows, "bytes_out": len(result.data),
            "rows_suppressed": released.decision.anonymisation.rows_suppressed}


def load_whole(path: Path) -> dict:
    frame = pd.read_parquet(pa.BufferReader(decrypt(path)))
    return {"rows": len(frame)}


def child(step: str, path: Path, rows: int) -> None:
    # The system allocator hands freed memory back to the OS; Arrow's default pool keeps it.
    pa.set_memory_pool(pa.system_memory_pool())
    start = time.perf_counter()
    result = {"generate": lambda: generate(path, rows) or {},
              "pipeline": lambda: run_pipeline(path),
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
