"""Benchmark: a feasibility count on a 1,000,000-row version against a naive pandas count.

Scenario: a 1,000,000-row synthetic admissions version of 250,000 citizens, stored encrypted as
the catalog stores it; 5 % of the citizens opted out. The count: distinct persons aged 65 to 90
with a COPD diagnosis (J44) in two municipalities in 2020-2023, after consent (the evaluation
delivery uses). The target is under 300 ms per count, as the application form asks while the
cohort is edited.

- `count (warm)`: the service's count once the version is in memory (it is decrypted on the
  first count and kept).
- `count (cold)`: the same including decrypting and reading the stored version.
- `naive pandas`: decrypt, `pd.read_parquet`, filter row by row with `.dt`/`.str`, `nunique`.

    .venv/bin/python bench/feasibility.py [--quick]      (--quick: 3 repeats instead of 9)
"""
from __future__ import annotations

import argparse
import io
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset, DataVersion
from marketplace.consent import evaluation
from marketplace.delivery import generalise, synthetic
from marketplace.security import Keyring
from marketplace.statistics import schemas, services, store

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ROWS = 1_000_000
COHORT = {"age": [65, 90], "diagnoses": ["DJ44"], "municipalities": ["101", "147"],
          "period": {"start": "2020-01-01", "end": "2023-12-31"}}


def stored_version(directory: Path, keyring: Keyring) -> tuple[DataVersion, pd.Series]:
    frame = synthetic.admissions(ROWS, ROWS // 4, seed=42, blind_index_key=b"b" * 32)
    keys = frame["_subject_key"].astype(str).drop_duplicates()
    sink = io.BytesIO()
    frame.drop(columns=["cpr", "name", "address", "note"]).to_parquet(sink, index=False)
    relative = "bench/version.parquet.enc"
    (directory / "bench").mkdir(parents=True, exist_ok=True)
    sha = keyring.write_encrypted(directory / relative, [sink.getvalue()],
                                  context=catalog_services.version_context(relative))
    return DataVersion(path=relative, sha256=sha, number_of_rows=ROWS), keys


def snapshot_of(keys: pd.Series) -> evaluation.ConsentSnapshot:
    opted_out = keys.sample(frac=0.05, random_state=1).to_numpy()
    events = pd.DataFrame({
        "subject_key": opted_out, "at": [NOW - timedelta(days=30)] * len(opted_out),
        "decision": ["opt_out"] * len(opted_out), "scope_type": ["all"] * len(opted_out),
        "scope_id": [None] * len(opted_out), "purpose": [None] * len(opted_out)})
    return evaluation.build_snapshot(events, purpose="company_research", holder_org_id=1,
                                     dataset_id=1, as_of=NOW)


def count(version: DataVersion, snapshot: evaluation.ConsentSnapshot, *, keyring: Keyring,
          data_dir: Path) -> int:
    """The service's feasibility count (without the database round trips)."""
    columns = synthetic.ADMISSION_COLUMNS
    prepared = store.prepared_version(version, columns=columns, has_subject=True,
                                      keyring=keyring, data_dir=data_dir)
    assert prepared.subject_keys is not None and prepared.person is not None
    included = prepared.remember(("bench-consent", snapshot.fingerprint), lambda: (
        evaluation.included_mask(prepared.subject_keys, snapshot, consent_model="opt_out")))
    person = prepared.person
    consent = (person >= 0) & included[person]  # type: ignore[index]
    cohort = schemas.Cohort.model_validate(COHORT).criteria()
    dataset = Dataset(columns=list(columns), subject_column="cpr")
    mask = services._cohort_mask(prepared, dataset, cohort, NOW) & consent
    return int(services._persons(prepared, mask).size)


def naive(version: DataVersion, snapshot: evaluation.ConsentSnapshot, *, keyring: Keyring,
          data_dir: Path) -> int:
    plaintext = keyring.read_encrypted_bytes(
        data_dir / str(version.path), context=catalog_services.version_context(str(version.path)))
    frame = pd.read_parquet(io.BytesIO(plaintext))
    opted_out = {key.decode() for key in snapshot.opted_out.keys}
    frame = frame[~frame["_subject_key"].astype(str).isin(opted_out)]
    age = generalise.age_years(frame["birth_date"], NOW.date())
    municipality = generalise.municipality_of_postcode(pd.Index(frame["postcode"].astype(str)))
    keep = (age.between(65, 90) & frame["diagnosis"].astype(str).str.startswith("DJ44")
            & np.asarray(pd.Index(municipality).isin(["101", "147"]))
            & frame["admission_date"].between(pd.Timestamp("2020-01-01"),
                                              pd.Timestamp("2023-12-31")))
    return int(frame.loc[keep, "_subject_key"].nunique())


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    keyring = Keyring(b"k" * 32)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        version, keys = stored_version(data_dir, keyring)
        snapshot = snapshot_of(keys)

        def cold() -> int:
            store._versions.clear()
            return count(version, snapshot, keyring=keyring, data_dir=data_dir)

        persons = cold()
        expected = naive(version, snapshot, keyring=keyring, data_dir=data_dir)
        assert persons == expected, (persons, expected)
        warm = median_ms(lambda: count(version, snapshot, keyring=keyring, data_dir=data_dir),
                         repeats)
        cold_ms = median_ms(cold, max(1, repeats // 3))
        baseline = median_ms(lambda: naive(version, snapshot, keyring=keyring,
                                           data_dir=data_dir), max(1, repeats // 3))
    print(f"rows: {ROWS:,}  persons in the cohort after consent: {persons}")
    print(f"count (warm)   median {warm:8.1f} ms")
    print(f"count (cold)   median {cold_ms:8.1f} ms")
    print(f"naive pandas   median {baseline:8.1f} ms")
    print(f"ratio naive / warm: {baseline / warm:.1f}x   naive / cold: {baseline / cold_ms:.1f}x")
    print(f"target: under 300 ms -> warm {'met' if warm < 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
