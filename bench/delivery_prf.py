"""Benchmark: pseudonymising unique identifiers against the machine's raw HMAC-SHA256 rate in C.

Three rates over the same 300,000 distinct CPR numbers (100,000 with --quick):
- `openssl speed -hmac sha256 -bytes 16` (C, one 16-byte message at a time): the reference;
- a per-value Python loop of `hmac.digest` (HMAC-SHA256, the obvious implementation);
- the pipeline's batch PRF (AES-256 on one block per identifier, see pseudonymise.py for the
  security argument), including canonicalising the identifiers and spelling the pseudonyms.

    .venv/bin/python bench/delivery_prf.py [--quick]
"""
import argparse
import hmac
import re
import shutil
import statistics
import subprocess
import time

import numpy as np
import pandas as pd

from marketplace.delivery.pseudonymise import pseudonyms_of_uniques

KEY = bytes(range(32))


def openssl_rate(seconds: int) -> float | None:
    """HMAC-SHA256 messages per second in C at 16 bytes, or None without openssl."""
    if shutil.which("openssl") is None:
        return None
    run = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "-bytes", "16", "-hmac", "sha256"],
        capture_output=True, text=True, check=False)
    match = re.search(r"^hmac\(sha256\)\s+([\d.]+)k", run.stdout, re.MULTILINE)
    return float(match.group(1)) * 1000 / 16 if match else None


def cprs(count: int) -> pd.Index:
    rng = np.random.default_rng(0)
    numbers = rng.choice(10**10, size=count, replace=False)
    return pd.Index([f"{n:010d}" for n in numbers])


def median_rate(function, values, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function(values)
        times.append(time.perf_counter() - start)
    return len(values) / statistics.median(times)


def python_hmac_loop(values: pd.Index) -> list[bytes]:
    return [hmac.digest(KEY, v.encode(), "sha256") for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, runs, seconds = (100_000, 3, 1) if args.quick else (300_000, 5, 3)
    values = cprs(count)
    c_rate = openssl_rate(seconds)
    loop = median_rate(python_hmac_loop, values, runs)
    batch = median_rate(lambda v: pseudonyms_of_uniques(KEY, v), values, runs)
    print(f"{count:,} distinct CPR numbers, medians of {runs} runs")
    if c_rate:
        print(f"openssl speed -hmac sha256 -bytes 16 (C):  {c_rate / 1e6:7.2f} M/s")
    print(f"Python loop of hmac.digest (HMAC-SHA256):    {loop / 1e6:7.2f} M/s")
    print(f"batch AES-256 PRF on uniques (pipeline):     {batch / 1e6:7.2f} M/s")
    if c_rate:
        print(f"RATIO Python HMAC loop / openssl: {loop / c_rate:.0%}")
        print(f"RATIO batch PRF / openssl: {batch / c_rate:.0%} (target >= 40%)")
    print(f"RATIO batch PRF / Python HMAC loop: {batch / loop:.1f}x")


if __name__ == "__main__":
    main()
