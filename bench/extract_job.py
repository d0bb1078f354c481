"""Benchmark: the whole extract job, as the worker runs it, against a naive pandas pipeline.

Scenario: a published admissions dataset (1,000,000 rows of 300,000 citizens; 100,000 rows with
--quick) stored encrypted by the catalog, and a permit for it. The job is what
`marketplace worker --once` does for one queued extract: claim it, decrypt the data version,
both pipeline passes (consent as of approval, cohort, pseudonyms, generalisation, whole-record
k-anonymity, leak scan, keyed order), the encrypted Parquet, the CSV hash, the signed manifest,
the transparency records (a row for the use, a narrow one per citizen) and the audit entry,
committed. The baseline, on the same rows in the same run, is bench/delivery_pipeline.py's naive
pandas pipeline (per-row HMAC, string generalisation, groupby-nunique k check) from Parquet
bytes to Parquet bytes, without any database, encryption or transparency work.

    .venv/bin/python bench/extract_job.py [--quick] [--database-url URL]
"""
import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from marketplace import audit, create_app, schema
from marketplace.access.models import AccessRequest, Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.db import session_scope, utcnow
from marketplace.delivery import jobs, services, synthetic
from marketplace.identity import services as identity

sys.path.insert(0, str(Path(__file__).parent))
from delivery_pipeline import consent_snapshot, naive, optimised

DESCRIPTOR = {
    "title": "Indlæggelser", "description": "Syntetiske indlæggelser.", "keywords": ["x"],
    "themes": ["HEAL"], "health_categories": ["EHR"], "access_rights": "NON_PUBLIC",
    "legal_basis": "EHDS art. 53", "consent_model": "opt_out",
    "data_use": {"permission": "GRU", "diseases": [], "modifiers": []}, "spatial": ["1084"],
    "contact_point": {"name": "Data", "email": "data@hospital.example"}, "k_min": 5,
    "subject_column": "cpr", "columns": [dict(c) for c in synthetic.ADMISSION_COLUMNS],
}
PERMITTED = ["cpr", "birth_date", "sex", "postcode", "admission_date", "diagnosis",
             "length_of_stay"]


def set_up(app, rows: int, persons: int) -> int:
    """A holder, its published dataset with one data version, a company and its permit."""
    frame = synthetic.admissions(rows, persons, seed=42).drop(columns=["_subject_key"])
    sink = io.BytesIO()
    frame.astype({"cpr": str, "name": str, "address": str, "sex": str, "postcode": str,
                  "diagnosis": str, "note": str}).assign(
        birth_date=frame["birth_date"].dt.date, admission_date=frame["admission_date"].dt.date,
    ).to_parquet(sink, index=False)
    with session_scope(app) as session:
        holder = identity.create_org(session, slug="bench-hospital", name="Hospital",
                                     kind="regional", country="DK", accredited=True)
        holder_actor = identity.staff_principal(identity.add_user(
            session, sub="bench-holder", email="h@hospital.example", org=holder,
            role="holder_admin"))
        company = identity.create_org(session, slug="bench-company", name="Company",
                                      kind="company", country="DK", accredited=True)
        dataset = catalog_services.create_dataset(
            session, actor=holder_actor, descriptor=Descriptor.model_validate(DESCRIPTOR))
        catalog_services.upload_version(
            session, actor=holder_actor, dataset_id=dataset.id, stream=io.BytesIO(sink.getvalue()),
            media_type="application/vnd.apache.parquet", keyring=app.extensions[
                "marketplace.keyring"], data_dir=app.config["DATA_DIR"], max_bytes=1 << 31)
        catalog_services.publish_dataset(session, actor=holder_actor, dataset_id=dataset.id)
        approved = utcnow()
        request = AccessRequest(
            company_org_id=company.id, submitted_by="bench", title="Bench", description="Bench",
            purpose="company_research", diseases=[], cohort={}, duration_days=90,
            status="permitted")
        session.add(request)
        session.flush()
        permit = Permit(
            access_request_id=request.id, company_org_id=company.id, purpose="company_research",
            datasets=[{"dataset_id": dataset.id, "columns": PERMITTED}], cohort={}, k_min=5,
            pseudonymised=False, duties=[], policy_version="bench", approved_at=approved,
            valid_until=approved.replace(year=approved.year + 1))
        session.add(permit)
        session.flush()
        audit.record_audit(session, actor=None, action="permit.issued", subject_type="permit",
                           subject_id=str(permit.id), details={})
        identity.add_user(session, sub="bench-company-user", email="c@company.example",
                          org=company, role="company_member")
        return permit.id


def run_job(app, permit_id: int) -> float:
    with session_scope(app) as session:
        user = identity.get_user_by_sub(session, sub="bench-company-user")
        extract = services.request_extract(session, actor=identity.staff_principal(user),
                                           permit_id=permit_id, dataset_id=None, now=utcnow())
        extract_id = extract.id
    started = time.perf_counter()
    assert jobs.run_next(app, worker="bench", extract_id=extract_id) == extract_id
    elapsed = time.perf_counter() - started
    with session_scope(app) as session:
        assert services.require_extract(session, extract_id=extract_id).status == "succeeded"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    rows, persons, runs = (100_000, 30_000, 3) if args.quick else (1_000_000, 300_000, 3)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        schema.upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DATA_DIR": Path(tmp),
                          "MASTER_KEY": base64.b64encode(bytes(range(32))).decode(),
                          "EXTRACTS_INLINE": False, "DASK_MIN_ROWS": 10**12})
        permit_id = set_up(app, rows, persons)
        jobs_s = [run_job(app, permit_id) for _ in range(runs)]
        stored = synthetic.admissions(rows, persons, seed=42, blind_index_key=b"b" * 32)
        baseline_bytes = io.BytesIO()
        stored.to_parquet(baseline_bytes, index=False)
        snapshot = consent_snapshot(stored["_subject_key"].astype(str).drop_duplicates())
        naive_s, pure_s = [], []
        for _ in range(runs):
            started = time.perf_counter()
            naive(baseline_bytes.getvalue(), snapshot)
            naive_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            optimised(baseline_bytes.getvalue(), snapshot)
            pure_s.append(time.perf_counter() - started)
    job, base = statistics.median(jobs_s), statistics.median(naive_s)
    print(f"data: {rows:,} rows of {persons:,} citizens; {runs} runs each, medians; "
          f"database {url.split(':')[0]}")
    print(f"whole extract job (worker, committed): {job:7.3f} s")
    print(f"naive pandas pipeline alone:           {base:7.3f} s")
    print(f"(our pure pipeline alone, no database:  {statistics.median(pure_s):7.3f} s)")
    print(f"RATIO naive / whole job: {base / job:.2f}x (target >= 1.5x)")


if __name__ == "__main__":
    main()
