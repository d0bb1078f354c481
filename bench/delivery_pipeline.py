"""Benchmark: the extract pipeline end to end against a straightforward pandas pipeline.

Scenario (full run): a 1,000,000-row synthetic admissions table of 300,000 citizens, stored as
Parquet; 5 % of the citizens opted out before the permit's approval. Timed from the Parquet bytes
to the extract's Parquet bytes: read, consent filter, cohort filter, minimise, pseudonymise,
generalise (age band, municipality, month), k-anonymity (k=5, distinct citizens), leak scan,
write. The baseline does the same with per-row `.apply` HMAC, per-row string formatting for the
generalisation and a groupby-nunique k check. Both run in this process on the same data.

    .venv/bin/python bench/delivery_pipeline.py [--quick]
"""
import argparse
import hashlib
import hmac
import io
import statistics
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pandas as pd

from marketplace.catalog import ingest
from marketplace.consent import evaluation
from marketplace.delivery import generalise, output, pipeline, synthetic

APPROVED = datetime(2025, 6, 1, tzinfo=UTC)
PERMITTED = ("cpr", "birth_date", "sex", "postcode", "admission_date", "diagnosis",
             "length_of_stay")
K = 5
BATCH_ROWS = 500_000
_POSTCODES = pd.Index([str(p) for p in range(1000, 10_000)])
MUNICIPALITY = dict(zip(_POSTCODES, generalise.municipality_of_postcode(_POSTCODES), strict=True))


def stored_version(rows: int, persons: int) -> tuple[bytes, pd.Series]:
    frame = synthetic.admissions(rows, persons, seed=42, blind_index_key=b"b" * 32)
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    return sink.getvalue(), frame["_subject_key"].astype(str).drop_duplicates()


def consent_snapshot(keys: pd.Series) -> evaluation.ConsentSnapshot:
    opted_out = keys.sample(frac=0.05, random_state=1).to_numpy()
    events = pd.DataFrame({
        "subject_key": opted_out,
        "at": [APPROVED - timedelta(days=30)] * len(opted_out),
        "decision": ["opt_out"] * len(opted_out),
        "scope_type": ["all"] * len(opted_out),
        "scope_id": [None] * len(opted_out),
        "purpose": [None] * len(opted_out),
    })
    return evaluation.build_snapshot(events, purpose="company_research", holder_org_id=1,
                                     dataset_id=1, as_of=APPROVED)


def optimised(data: bytes, snapshot: evaluation.ConsentSnapshot) -> tuple[int, int]:
    plan = pipeline.ExtractPlan(
        columns=synthetic.ADMISSION_COLUMNS, subject_column="cpr", permitted=PERMITTED,
        cohort={}, k=K, reference_date=APPROVED.date(), pseudonym_key=b"p" * 32,
        date_shift_key=b"s" * 32,
        include=partial(evaluation.included_mask, snapshot=snapshot, consent_model="opt_out"))

    def frames():
        return ingest.read_frames(data, columns=plan.input_columns, batch_rows=BATCH_ROWS)

    released = pipeline.run_pandas(frames, plan)
    result = output.write_parquet(chunk.frame for chunk in released.chunks)
    return result.rows, len(result.data)


def naive(data: bytes, snapshot: evaluation.ConsentSnapshot) -> tuple[int, int]:
    frame = pd.read_parquet(io.BytesIO(data))
    opted_out = {k.decode() for k in snapshot.opted_out.keys}
    frame = frame[~frame["_subject_key"].astype(str).isin(opted_out)]
    frame = frame[[*PERMITTED, "_subject_key"]].copy()
    key = b"p" * 32
    frame["pseudonym"] = frame["cpr"].astype(str).apply(
        lambda c: hmac.new(key, c.replace("-", "").encode(), hashlib.sha256).hexdigest())
    reference = APPROVED.date()

    def band(born):
        age = reference.year - born.year - ((reference.month, reference.day)
                                            < (born.month, born.day))
        return f"{age // 10 * 10}-{age // 10 * 10 + 9}"

    frame["birth_date"] = frame["birth_date"].apply(band)
    frame["postcode"] = frame["postcode"].astype(str).apply(lambda p: MUNICIPALITY.get(p, "*"))
    frame["admission_date"] = frame["admission_date"].apply(lambda d: d.strftime("%Y-%m"))
    qis = ["birth_date", "sex", "postcode", "admission_date"]
    persons = frame.groupby(qis, observed=True)["_subject_key"].transform("nunique")
    frame = frame[persons >= K]
    out = frame.drop(columns=["cpr", "_subject_key"])
    sink = io.BytesIO()
    out.to_parquet(sink, index=False)
    return len(out), len(sink.getvalue())


def timed(function, *args, runs: int) -> tuple[float, float, tuple]:
    """Median wall-clock and CPU seconds (CPU time is steadier on a shared machine)."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, a few seconds")
    args = parser.parse_args()
    rows, persons, runs = (100_000, 30_000, 3) if args.quick else (1_000_000, 300_000, 3)
    data, keys = stored_version(rows, persons)
    snapshot = consent_snapshot(keys)
    print(f"data: {rows:,} rows of {persons:,} citizens ({len(data) / 1e6:.1f} MB Parquet); "
          f"k={K}; {runs} runs each, medians")
    fast, fast_cpu, (fast_rows, _) = timed(optimised, data, snapshot, runs=runs)
    slow, slow_cpu, (slow_rows, _) = timed(naive, data, snapshot, runs=runs)
    print(f"pipeline (categorical, PRF on uniques, lattice k-anonymity): wall {fast:7.3f} s "
          f"cpu {fast_cpu:7.3f} s  {rows / fast_cpu / 1e6:5.2f} M rows/s of CPU "
          f"({fast_rows:,} rows out)")
    print(f"naive pandas (.apply HMAC, string formatting, groupby-nunique): wall {slow:7.3f} s "
          f"cpu {slow_cpu:7.3f} s  {rows / slow_cpu / 1e6:5.2f} M rows/s of CPU "
          f"({slow_rows:,} rows out)")
    print(f"RATIO naive / pipeline: wall {slow / fast:.1f}x, cpu {slow_cpu / fast_cpu:.1f}x "
          f"(target >= 3x)")


if __name__ == "__main__":
    main()
