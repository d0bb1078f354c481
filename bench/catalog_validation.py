"""Validation speed: Great Expectations on the upload path against the same checks in pandas.

Run: .venv/bin/python bench/catalog_validation.py [--quick] [--naive]

Both sides validate the same synthetic data version (CPR, dates, codes, ranges, uniqueness)
against the same column dictionary and share the type preparation (`prepare_frame`). The GX
side is the real upload path: `QualityAccumulator` over 250,000-row chunks, date ranges checked
as integer days, SUMMARY results with a few failing row numbers. The baseline writes each
expectation as one vectorised pandas expression over the whole frame. `--naive` adds GX with
the date range on datetime values (evaluated row by row), to show why dates go in as integers.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.catalog import quality
from marketplace.catalog.ingest import CHUNK_ROWS

COLUMNS = [
    {"name": "cpr", "type": "string", "role": "direct_identifier", "identifier_kind": "cpr",
     "required": True},
    {"name": "record_id", "type": "integer", "role": "attribute", "unique": True},
    {"name": "birth_date", "type": "date", "role": "quasi_identifier",
     "minimum": "1900-01-01", "maximum": "2026-12-31"},
    {"name": "sex", "type": "category", "role": "quasi_identifier", "code_system": "sex"},
    {"name": "admitted", "type": "date", "role": "quasi_identifier", "minimum": "2015-01-01",
     "maximum": "2026-12-31", "required": True},
    {"name": "diagnosis", "type": "string", "role": "sensitive", "code_system": "icd10"},
    {"name": "municipality", "type": "category", "role": "quasi_identifier",
     "code_system": "municipality"},
    {"name": "days", "type": "integer", "role": "attribute", "minimum": 0, "maximum": 365},
    {"name": "contact", "type": "category", "role": "attribute",
     "allowed_values": ["ambulant", "indlagt", "akut"]},
]


def synthetic(rows: int, seed: int = 1) -> pd.DataFrame:
    """A data version as it arrives from CSV: every column as text, a few bad values."""
    rng = np.random.default_rng(seed)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 30_000, rows), "D")
    cpr = born.strftime("%d%m%y") + pd.Series(rng.integers(0, 4, rows)).astype(str).to_numpy() \
        + pd.Series(rng.integers(0, 1000, rows)).astype(str).str.zfill(3).to_numpy()
    admitted = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 4000, rows), "D")
    frame = pd.DataFrame({
        "cpr": cpr, "record_id": np.arange(rows).astype(str),
        "birth_date": born.strftime("%Y-%m-%d"),
        "sex": rng.choice(["male", "female"], rows),
        "admitted": admitted.strftime("%Y-%m-%d"),
        "diagnosis": rng.choice(["DJ441", "DJ449", "DI500", "DE119", "DS720"], rows),
        "municipality": rng.choice(["101", "165", "153", "147"], rows),
        "days": rng.integers(0, 30, rows).astype(str),
        "contact": rng.choice(["ambulant", "indlagt", "akut"], rows),
    })
    frame.loc[rows // 2, "days"] = "999"
    frame.loc[rows // 3, "admitted"] = "2001-01-01"
    return frame


def run_gx(frame: pd.DataFrame) -> dict:
    checker = quality.QualityAccumulator(COLUMNS)
    for start in range(0, len(frame), CHUNK_ROWS):
        checker.add(frame.iloc[start:start + CHUNK_ROWS].copy())
    return checker.finish()


def run_pandas(frame: pd.DataFrame) -> dict[str, list[int]]:
    """The same checks as one vectorised pandas expression each; returns failing rows."""
    raw = frame.copy()
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    prepared = quality.prepare_frame(raw, COLUMNS)
    failures = pandas_checks(prepared)
    prepared.notna().mean()  # completeness, as the report has it
    return failures


def pandas_checks(prepared: pd.DataFrame) -> dict[str, list[int]]:
    failures = {}
    for check in quality.plan_checks(COLUMNS):
        values = prepared[check.target]
        present = values.notna()
        if check.rule == "required":
            bad = ~present
        elif check.expectation == "ExpectColumnValuesToBeInSet":
            bad = present & ~values.isin(check.kwargs["value_set"])
        elif check.expectation == "ExpectColumnValuesToBeBetween":
            low, high = check.kwargs.get("min_value"), check.kwargs.get("max_value")
            bad = present & (((values < low) if low is not None else False)
                             | ((values > high) if high is not None else False))
        elif check.expectation == "ExpectColumnValuesToMatchRegex":
            bad = present & ~values.str.contains(check.kwargs["regex"], regex=True)
        else:
            bad = present & values.duplicated(keep=False)
        failures[f"{check.column}:{check.rule}"] = list(values.index[bad.to_numpy()][:5])
    return failures


def run_naive_gx(frame: pd.DataFrame) -> None:
    """GX with dates compared as datetimes (one Python comparison per row)."""
    import great_expectations.expectations as gxe

    gx, context = quality._gx()
    prepared = quality.prepare_frame(frame, COLUMNS)
    suite = gx.ExpectationSuite(name="naive")
    for column, low, high in (("birth_date", "1900-01-01", "2026-12-31"),
                              ("admitted", "2015-01-01", "2026-12-31")):
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=pd.Timestamp(low), max_value=pd.Timestamp(high)))
    batch = (context.data_sources.get("uploads").get_asset("version")
             .get_batch_definition("chunk").get_batch(batch_parameters={"dataframe": prepared}))
    batch.validate(suite, result_format={"result_format": "SUMMARY",
                                         "partial_unexpected_count": 5})


def median_seconds(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 3 runs")
    parser.add_argument("--naive", action="store_true", help="also time naive GX date checks")
    args = parser.parse_args()
    rows, runs = (100_000, 3) if args.quick else (1_000_000, 5)
    frame = synthetic(rows)
    quality._gx()  # import and context set-up happen once per process, not per upload
    report = run_gx(frame)
    baseline_failures = run_pandas(frame)
    gx_failures = {f"{e['column']}:{e['rule']}": e["example_rows"]
                   for e in report["expectations"] if not e["success"]}
    assert gx_failures == {k: v for k, v in baseline_failures.items() if v}, "results differ"
    gx_time = median_seconds(lambda: run_gx(frame), runs)
    pandas_time = median_seconds(lambda: run_pandas(frame), runs)
    print(f"rows: {rows:,}; runs: {runs}; failing checks found by both: {sorted(gx_failures)}")
    print(f"vectorised pandas (baseline): median {pandas_time:.3f} s")
    print(f"great expectations (upload path): median {gx_time:.3f} s")
    print(f"RATIO gx / pandas = {gx_time / pandas_time:.2f}x (target <= 5x)")
    prepared = quality.prepare_frame(frame, COLUMNS)
    checks = quality.plan_checks(COLUMNS)
    gx_checks = median_seconds(lambda: quality.run_checks(prepared, checks), runs)
    pandas_only = median_seconds(lambda: pandas_checks(prepared), runs)
    print(f"GX's own overhead, evaluating the prepared numeric columns only: gx "
          f"{gx_checks:.3f} s vs pandas {pandas_only:.3f} s ({gx_checks / pandas_only:.1f}x)")
    if args.naive:
        naive = median_seconds(lambda: run_naive_gx(frame), 1)
        print(f"naive GX, two date ranges as datetimes: {naive:.3f} s; "
              f"RATIO vs baseline = {naive / pandas_time:.2f}x")


if __name__ == "__main__":
    main()
