"""Upload throughput: a Parquet data version validated and stored, as PUT /api/v1/datasets/{id}/data
does it, against reading and re-writing the same file with pyarrow alone.

Scenario: a described admissions dataset and a 1,000,000-row Parquet file of 300,000 citizens
(100,000 rows with --quick). The upload is `catalog.services.upload_version`: the body received
into a sealed (encrypted) spool, the schema checked, every chunk validated (types, codes,
ranges, formula cells, uniqueness, unique individuals), the CPR column blind-indexed and the
version written as encrypted Parquet, then committed. The baseline, in the same run on the same
bytes, is pyarrow reading the Parquet and writing it again, zstd-compressed, with no checks and
no encryption.

    .venv/bin/python bench/catalog_upload.py [--quick] [--database-url URL]
"""
import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import create_app, schema
from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.db import session_scope
from marketplace.delivery import synthetic
from marketplace.identity import services as identity

sys.path.insert(0, str(Path(__file__).parent))
from extract_job import DESCRIPTOR


def parquet_bytes(rows: int, persons: int) -> bytes:
    frame = synthetic.admissions(rows, persons, seed=42).drop(columns=["_subject_key"])
    sink = io.BytesIO()
    frame.astype({"cpr": str, "name": str, "address": str, "sex": str, "postcode": str,
                  "diagnosis": str, "note": str}).assign(
        birth_date=frame["birth_date"].dt.date, admission_date=frame["admission_date"].dt.date,
    ).to_parquet(sink, index=False)
    return sink.getvalue()


def upload(app, dataset_id: int, body: bytes) -> float:
    started = time.perf_counter()
    with session_scope(app) as session:
        user = identity.get_user_by_sub(session, sub="bench-holder")
        version = catalog_services.upload_version(
            session, actor=identity.staff_principal(user), dataset_id=dataset_id,
            stream=io.BytesIO(body), media_type="application/vnd.apache.parquet",
            keyring=app.extensions["marketplace.keyring"], data_dir=app.config["DATA_DIR"],
            max_bytes=1 << 31)
        assert version.is_valid, version.report
    return time.perf_counter() - started


def rewrite(body: bytes) -> float:
    started = time.perf_counter()
    table = pq.read_table(io.BytesIO(body))
    pq.write_table(table, io.BytesIO(), compression="zstd")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    rows, persons, runs = (100_000, 30_000, 3) if args.quick else (1_000_000, 300_000, 3)
    body = parquet_bytes(rows, persons)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        schema.upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DATA_DIR": Path(tmp),
                          "MASTER_KEY": base64.b64encode(bytes(range(32))).decode(),
                          "EXTRACTS_INLINE": False})
        with session_scope(app) as session:
            holder = identity.create_org(session, slug="bench-hospital", name="Hospital",
                                         kind="regional", country="DK", accredited=True)
            actor = identity.staff_principal(identity.add_user(
                session, sub="bench-holder", email="h@hospital.example", org=holder,
                role="holder_admin"))
            dataset_id = catalog_services.create_dataset(
                session, actor=actor, descriptor=Descriptor.model_validate(DESCRIPTOR)).id
        uploads = [upload(app, dataset_id, body) for _ in range(runs)]
        rewrites = [rewrite(body) for _ in range(runs)]
    up, base = statistics.median(uploads), statistics.median(rewrites)
    print(f"data: {rows:,} rows of {persons:,} citizens, {len(body) / 1e6:.1f} MB Parquet; "
          f"{runs} runs each, medians; database {url.split(':')[0]}")
    print(f"upload validated, encrypted and committed: {up:7.3f} s "
          f"({rows / up / 1e6:.2f} M rows/s; target < 6 s for 1,000,000 rows)")
    print(f"pyarrow read + rewrite alone (baseline):   {base:7.3f} s")
    print(f"RATIO upload / baseline: {up / base:.1f}x")


if __name__ == "__main__":
    main()
