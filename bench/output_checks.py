"""How long the automatic output checks take on a 1,000-cell table (target: under 100 ms).

Workload: a CSV table of counts (100 rows, a label column and 10 count columns: 1,000 cells,
some under the threshold) and a magnitude table (334 rows of total, largest and second largest
contribution: about 1,000 cells, some dominated). Every check runs: file type and size, CPR
numbers in any spelling, record-level output, persons per cell, dominance and extremes.

Baseline, measured in the same run: the naive way, one Python loop over every cell that tests it
with a regular expression for CPR numbers and a comparison with the threshold, and one loop over
the magnitude rows for the N-K and p % rules. The job-log scrub is timed against the single
regular expression used before (which misses dotted dates and en dashes).

    .venv/bin/python bench/output_checks.py [--quick]
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.cpr import is_valid_cpr, scrub_cpr
from marketplace.workspace.checks import OutputRules, check_bytes

NAIVE_CPR = re.compile(r"(?<!\d)(\d{6})[-\s]?(\d{4})(?!\d)")


def counts_table(rows: int, columns: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    lines = ["region," + ",".join(f"n_{c}" for c in range(columns))]
    for r in range(rows):
        lines.append(f"region {r}," + ",".join(str(rng.choice([0, 3, 7, 12, 40, 250]))
                                               for _ in range(columns)))
    return ("\n".join(lines) + "\n").encode()


def magnitude_table(rows: int, seed: int = 2) -> bytes:
    rng = random.Random(seed)
    lines = ["group,total,largest_1,largest_2"]
    for r in range(rows):
        top = rng.randint(100, 10_000)
        second = rng.randint(10, top)
        rest = rng.randint(0, 50_000)
        lines.append(f"g{r},{top + second + rest},{top},{second}")
    return ("\n".join(lines) + "\n").encode()


def naive(data: bytes, *, threshold: int = 5, k: float = 0.9, p: float = 0.1) -> int:
    """One Python loop over every cell: CPR regex, threshold, then N-K and p % per row."""
    findings = 0
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(reader)
    magnitude = "total" in header
    for row in reader:
        for cell in row:
            for match in NAIVE_CPR.finditer(cell):
                if is_valid_cpr(match.group(1) + match.group(2)):
                    findings += 1
        if magnitude:
            total, top, second = float(row[1]), float(row[2]), float(row[3])
            if top + second > k * total or total - top - second < p * top:
                findings += 1
        else:
            for cell in row[1:]:
                value = int(cell)
                if 0 < value < threshold:
                    findings += 1
    return findings


def timed(function, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 15 if args.quick else 100
    rules = OutputRules()
    tables = {"counts 100x10": (counts_table(100, 10), "counts.csv"),
              "magnitudes 334x3": (magnitude_table(334), "sums.csv")}
    check_bytes(tables["counts 100x10"][0], name="warm.csv", rules=rules)  # imports, tables
    print(f"workload: 1,000-cell tables, threshold {rules.cell_threshold}, {repeats} repeats")
    worst = 0.0
    for label, (data, name) in tables.items():
        found = check_bytes(data, name=name, rules=rules)
        ours = statistics.median(timed(lambda d=data, n=name: check_bytes(d, name=n, rules=rules),
                                       repeats))
        baseline = statistics.median(timed(lambda d=data: naive(d), repeats))
        worst = max(worst, ours)
        outcomes = ", ".join(f"{c.rule}={c.outcome}" for c in found)
        print(f"{label:<18} checks median {ours:7.2f} ms | naive loop median {baseline:7.2f} ms "
              f"| ratio naive/checks {baseline / ours:5.2f}x")
        print(f"{'':<18} {outcomes}")
    big = counts_table(1000, 100)
    scale = repeats // 5 or 1
    ours = statistics.median(timed(lambda: check_bytes(big, name="big.csv", rules=rules), scale))
    baseline = statistics.median(timed(lambda: naive(big), scale))
    print(f"{'counts 1000x100':<18} checks median {ours:7.2f} ms | naive loop median "
          f"{baseline:7.2f} ms | ratio naive/checks {baseline / ours:5.2f}x (100,000 cells)")
    lines = 2_000 if args.quick else 20_000
    log = ("2026-12-01 20:00:00 INFO rows 123456 read from /data/7.parquet in 0.53 s; "
           "Patient 01.01.90\u20131234 excluded\n") * lines
    ours = statistics.median(timed(lambda: scrub_cpr(log), scale))
    baseline = statistics.median(timed(lambda: NAIVE_CPR.sub("[CPR]", log), scale))
    caught = scrub_cpr(log).count("[CPR]")
    naive_caught = NAIVE_CPR.sub("[CPR]", log).count("[CPR]")
    print(f"{'log scrub':<18} scrub_cpr median {ours:7.2f} ms | one regex median {baseline:7.2f} "
          f"ms | ratio regex/scrub {baseline / ours:5.2f}x ({len(log) / 1e6:.1f} MB; CPR numbers "
          f"caught: scrub_cpr {caught} of {lines}, the regex {naive_caught})")
    print(f"target under 100 ms on 1,000 cells: {'met' if worst < 100 else 'NOT met'} "
          f"(slowest median {worst:.2f} ms)")


if __name__ == "__main__":
    main()
