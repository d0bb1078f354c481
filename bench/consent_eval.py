"""Benchmark: bulk consent evaluation against a naive per-row lookup.

Scenario (full run): a registry of 6,000,000 citizens (Denmark's population), 1,000,000 consent
events on them, and a 1,000,000-row dataset. Timed: folding the events into a snapshot for one
purpose, holder and dataset, then the inclusion mask over every row (opt_out and opt_in models).
The naive baseline indexes events per citizen in a dict and folds each row's events in Python;
in the full run it is timed on a sample of rows and extrapolated, as the output says.

    .venv/bin/python bench/consent_eval.py [--quick]
"""
import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from marketplace.consent import evaluation

PURPOSES = ("public_research", "company_research", "test_environment", "education",
            "official_statistics", "public_health")
HOLDER_ID, DATASET_ID, PURPOSE = 3, 7, "company_research"
BUDGET_SECONDS = 1.0


def random_keys(rng: np.random.Generator, count: int) -> pd.Series:
    """`count` distinct-looking 64-hex-digit keys, shaped like CPR blind indexes."""
    raw = rng.integers(0, 2**63, size=(count, 4), dtype=np.uint64).tobytes()
    hexed = np.frombuffer(raw, dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty(hexed.size * 2, dtype=np.uint8)
    text[0::2], text[1::2] = digits[hexed >> 4], digits[hexed & 15]
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(64), count, [None, pa.py_buffer(text)])
    return pd.Series(fixed.cast(pa.binary()).cast(pa.large_string()), dtype="str")


def make_events(rng: np.random.Generator, registry: pd.Series, count: int) -> pd.DataFrame:
    subjects = registry.iloc[rng.integers(0, len(registry), count)].reset_index(drop=True)
    kind = rng.random(count)
    decision = np.where(kind < 0.12, evaluation.OPT_OUT,
               np.where(kind < 0.16, evaluation.OPT_OUT_WITHDRAWN,
               np.where(kind < 0.60, evaluation.PERMIT,
               np.where(kind < 0.95, evaluation.DENY, evaluation.CLEAR)))).astype(object)
    scope_pick = rng.random(count)
    scope_type = np.where(scope_pick < 0.7, "all",
                          np.where(scope_pick < 0.9, "holder", "dataset")).astype(object)
    scope_id = np.where(scope_type == "holder", rng.integers(1, 11, count),
                        np.where(scope_type == "dataset", rng.integers(1, 21, count), -1))
    purpose = np.asarray(PURPOSES, dtype=object)[rng.integers(0, len(PURPOSES), count)]
    opt_out_event = np.isin(decision, evaluation.OPT_OUT_DECISIONS)
    scope_type[opt_out_event] = "all"
    purpose[opt_out_event] = None
    start = datetime(2025, 1, 1, tzinfo=UTC)
    offsets = pd.to_timedelta(np.sort(rng.integers(0, 600 * 86400, count)), unit="s")
    at = pd.Series(pd.Timestamp(start) + offsets)
    # Shaped as the consent service loads events: text columns categorical, ids as floats.
    return pd.DataFrame({
        "subject_key": subjects, "at": at,
        "decision": pd.Categorical(decision, categories=evaluation.DECISIONS),
        "scope_type": pd.Categorical(scope_type, categories=evaluation.SCOPE_TYPES),
        "scope_id": np.where(scope_id < 0, np.nan, scope_id),
        "purpose": pd.Categorical(purpose, categories=PURPOSES)})


def make_dataset(rng: np.random.Generator, registry: pd.Series, events: pd.DataFrame,
                 rows: int) -> pd.Series:
    """Rows on citizens of the registry; half of them on citizens who have consent events."""
    from_events = events["subject_key"].iloc[rng.integers(0, len(events), rows // 2)]
    others = registry.iloc[rng.integers(0, len(registry), rows - rows // 2)]
    keys = pd.concat([from_events, others], ignore_index=True)
    return keys.iloc[rng.permutation(rows)].reset_index(drop=True)


def snapshot_and_mask(events: pd.DataFrame, keys: pd.Series, as_of: datetime, *,
                      consent_model: str) -> np.ndarray:
    """What delivery does per dataset: one snapshot, one mask for the dataset's consent model."""
    snapshot = evaluation.build_snapshot(events, purpose=PURPOSE, holder_org_id=HOLDER_ID,
                                         dataset_id=DATASET_ID, as_of=as_of)
    return evaluation.included_mask(keys, snapshot, consent_model=consent_model)


def naive_index(events: pd.DataFrame) -> dict[str, list[tuple]]:
    by_subject: dict[str, list[tuple]] = {}
    columns = [events[name].tolist() for name in evaluation.EVENT_COLUMNS]
    for key, at, decision, scope_type, scope_id, purpose in zip(*columns, strict=True):
        by_subject.setdefault(key, []).append((at, decision, scope_type, scope_id, purpose))
    return by_subject


def naive_row(history: list[tuple], as_of: pd.Timestamp) -> tuple[bool, str | None]:
    """(opted out, most specific decision) for one subject, folding its events in order."""
    opted_out, latest = False, {}
    for at, decision, scope_type, scope_id, purpose in history:
        if at > as_of:
            break
        if decision in evaluation.OPT_OUT_DECISIONS:
            opted_out = decision == evaluation.OPT_OUT
            continue
        if purpose != PURPOSE:
            continue
        level = {"all": 0, "holder": 1 if scope_id == HOLDER_ID else -1,
                 "dataset": 2 if scope_id == DATASET_ID else -1}[scope_type]
        if level >= 0:
            latest[level] = decision
    standing = [latest[level] for level in (2, 1, 0)
                if latest.get(level) not in (None, evaluation.CLEAR)]
    return opted_out, (standing[0] if standing else None)


def naive(by_subject: dict[str, list[tuple]], keys: list[str],
          as_of: datetime) -> dict[str, np.ndarray]:
    stamp = pd.Timestamp(as_of)
    opt_in, opt_out = np.zeros(len(keys), bool), np.zeros(len(keys), bool)
    for row, key in enumerate(keys):
        opted_out, decision = naive_row(by_subject.get(key, []), stamp)
        opt_in[row] = not opted_out and decision == evaluation.PERMIT
        opt_out[row] = not opted_out and decision != evaluation.DENY
    return {"opt_in": opt_in, "opt_out": opt_out}


def median_seconds(function, runs: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, finishes in seconds")
    args = parser.parse_args()
    citizens, event_count, rows = ((200_000, 50_000, 50_000) if args.quick
                                   else (6_000_000, 1_000_000, 1_000_000))
    naive_rows = rows if args.quick else 100_000
    runs = 3 if args.quick else 5
    rng = np.random.default_rng(2026)
    registry = random_keys(rng, citizens)
    events = make_events(rng, registry, event_count)
    keys = make_dataset(rng, registry, events, rows)
    as_of = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(days=1)
    print(f"registry {citizens:,} citizens, {event_count:,} consent events, "
          f"dataset {rows:,} rows; purpose {PURPOSE}, as of {as_of:%Y-%m-%d}")

    fast, fast_medians = {}, {}
    for model in evaluation.CONSENT_MODELS:
        fast_medians[model], fast[model] = median_seconds(
            lambda model=model: snapshot_and_mask(events, keys, as_of, consent_model=model), runs)
    fast_median = max(fast_medians.values())
    index_median, by_subject = median_seconds(lambda: naive_index(events), 1)
    sample = keys.iloc[:naive_rows].tolist()
    rows_median, slow = median_seconds(lambda: naive(by_subject, sample, as_of), 1)
    naive_total = index_median + rows_median * rows / naive_rows
    for model in evaluation.CONSENT_MODELS:
        if not np.array_equal(fast[model][:naive_rows], slow[model]):
            raise SystemExit(f"MISMATCH between vectorised and naive results ({model})")

    included = {model: int(mask.sum()) for model, mask in fast.items()}
    print(f"included rows: opt_out model {included['opt_out']:,}, "
          f"opt_in model {included['opt_in']:,} (naive agrees on {naive_rows:,} rows)")
    for model, seconds in fast_medians.items():
        print(f"vectorised snapshot + mask, {model} dataset: median {seconds:.3f} s "
              f"over {runs} runs")
    extrapolated = "" if naive_rows == rows else (
        f" (per-row loop timed on {naive_rows:,} rows and extrapolated x{rows / naive_rows:.0f})")
    print(f"naive per-row lookup: {naive_total:.3f} s{extrapolated}")
    print(f"RATIO naive / vectorised (slower model): {naive_total / fast_median:.1f}x")
    if not args.quick:
        verdict = "PASS" if fast_median < BUDGET_SECONDS else "FAIL"
        print(f"{verdict}: budget {BUDGET_SECONDS:.1f} s for the full-size evaluation")


if __name__ == "__main__":
    main()
