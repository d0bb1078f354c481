"""Building an extract as a durable job: claiming, leases, the pipeline run, the signed manifest.

The edge that runs it (the worker command or the in-process runner) owns the transactions.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit, leases, leftovers
from marketplace.access import services as access_services
from marketplace.access.models import Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset, DataVersion
from marketplace.consent import evaluation as consent_evaluation
from marketplace.consent import services as consent_services
from marketplace.db import utcnow
from marketplace.delivery import assessment, leaks, output, pipeline
from marketplace.delivery.extracts import permitted_entry, require_extract
from marketplace.delivery.models import Extract
from marketplace.errors import Conflict, Invalid
from marketplace.notifications import services as notifications
from marketplace.notifications.kinds import COMPANY
from marketplace.security import Keyring

LEASE = leases.DEFAULT_LEASE
MAX_ATTEMPTS = leases.MAX_ATTEMPTS
BATCH_ROWS = 500_000

ProgressCallback = Callable[[float], None]

# --- the job ---------------------------------------------------------------------------------


def claim_next_extract(session: Session, *, worker: str, now: datetime,
                       extract_id: int | None = None, lease: timedelta = LEASE
                       ) -> Extract | None:
    """Lease the oldest queued extract, or one whose worker's lease ran out (it crashed).

    An extract whose workers stopped MAX_ATTEMPTS times is failed instead of tried again.
    """
    return leases.claim_next(
        session, Extract, worker=worker, now=now, lease=lease, job_id=extract_id,
        give_up=lambda extract: fail_extract(
            session, extract_id=extract.id, now=now,
            message="the extract stopped repeatedly while being built"))


def _fail(extract: Extract, message: str, now: datetime) -> None:
    extract.status = "failed"
    extract.error = message
    extract.finished_at = now
    extract.lease_owner = extract.lease_expires_at = None
    extract.path = None


def fail_extract(session: Session, *, extract_id: int, message: str, now: datetime) -> Extract:
    """Mark an extract failed with a message the company can act on."""
    extract = require_extract(session, extract_id=extract_id)
    _fail(extract, message, now)
    audit.record_audit(session, actor=None, action="extract.failed",
                                 subject_type="extract", subject_id=str(extract.id),
                                 details={"error": message})
    tell_company(session, extract)
    return extract


def tell_company(session: Session, extract: Extract) -> None:
    """Tell whoever ordered the extract (a system's company: its staff) that it finished."""
    notifications.notify(
        session, kind="extract_finished",
        audience=notifications.submitter(extract.requested_by, org_id=extract.company_org_id,
                                         roles=COMPANY),
        params={"extract": extract.id, "status": extract.status},
        link=f"/extracts/{extract.id}")


def permit_keys(keyring: Keyring, permit_id: int) -> tuple[bytes, bytes]:
    """The permit's pseudonym key and date-shift key (HKDF from the master key)."""
    return (keyring.derive(f"permit:{permit_id}:pseudonym"),
            keyring.derive(f"permit:{permit_id}:date-shift"))


def extract_context(extract_id: int) -> str:
    return f"delivery/extract/{extract_id}"


def extract_path(extract_id: int, *, data_dir: Path) -> Path:
    return data_dir / "extracts" / f"{extract_id}.parquet.enc"


def remove_leftover_files(session: Session, *, data_dir: Path) -> list[Path]:
    """Remove extract files no finished extract points at (a worker killed before its commit,
    an extract failed for good) and half-written ones whose writer is gone. A running or queued
    extract's file stays: its (next) worker writes it again."""
    folder = data_dir / "extracts"
    if not folder.is_dir():
        return []
    kept = {extract_path(extract_id, data_dir=data_dir) for extract_id in session.scalars(
        sa.select(Extract.id).where(sa.or_(Extract.path.is_not(None),
                                           Extract.status.in_(("queued", "running")))))}
    return leftovers.remove_unreferenced(folder, referenced=kept.__contains__, grace_seconds=0)


def plan_for(session: Session, *, permit: Permit, dataset: Dataset, keyring: Keyring
             ) -> pipeline.ExtractPlan:
    """The pipeline plan of one dataset under one permit, consent evaluated as of approval."""
    entry = permitted_entry(permit, dataset.id)
    snapshot = consent_services.consent_snapshot(
        session, purpose=permit.purpose, holder_org_id=dataset.publisher_org_id,
        dataset_id=dataset.id, as_of=permit.approved_at)
    pseudonym_key, shift_key = permit_keys(keyring, permit.id)
    return pipeline.ExtractPlan(
        columns=tuple(dataset.columns),
        subject_column=dataset.subject_column,
        permitted=tuple(entry.get("columns") or ()),
        cohort=permit.cohort or {},
        k=max(dataset.k_min or 1, permit.k_min or 0),
        reference_date=permit.approved_at.date(),
        pseudonym_key=pseudonym_key,
        date_shift_key=shift_key,
        include=partial(consent_evaluation.included_mask, snapshot=snapshot,
                        consent_model=dataset.consent_model),
    )


def run_extract(session: Session, *, extract: Extract, keyring: Keyring, data_dir: Path,
                now: datetime, on_progress: ProgressCallback | None = None,
                batch_rows: int | None = None, dask_min_rows: int | None = None,
                dask_scheduler_address: str | None = None,
                hold_lease: Callable[[], None] | None = None) -> Extract:
    """Build a leased extract end to end; it becomes visible only when complete.

    A data version of at least `dask_min_rows` rows (None: never) runs on Dask: the cluster
    at `dask_scheduler_address`, or a thread-based local cluster inside this worker.

    The file is written under a name of this process's own and renamed into place only after
    `hold_lease` (called in the transaction that records the result) confirmed that this
    worker still holds the job; it raises leases.LeaseLost when another worker took it over,
    and then nothing is kept: the new owner writes the file and records the result.

    Raises a DomainError with a message the company can act on (permit no longer valid, data
    version changed, tampered or truncated data, a leak found) and leaves no output file; the
    caller rolls back and records the failure with `fail_extract`.
    """
    path = extract_path(extract.id, data_dir=data_dir)
    staged = leftovers.part_path(path)
    try:
        built = _build(session, extract=extract, keyring=keyring, data_dir=data_dir, now=now,
                       on_progress=on_progress, batch_rows=batch_rows or BATCH_ROWS,
                       dask_min_rows=dask_min_rows, dask_scheduler_address=dask_scheduler_address,
                       into=staged)
        if hold_lease is not None:
            hold_lease()
    except leaks.LeakFound as found:
        staged.unlink(missing_ok=True)
        raise Invalid("lækagescanningen stoppede udtrækket: {findings}",
                      findings="; ".join(found.findings)) from None
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    # From here until the caller's commit or rollback no other worker can take the job over.
    os.replace(staged, path)
    try:
        return _record(session, extract=extract, built=built, path=path, data_dir=data_dir)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _usable_version(session: Session, extract: Extract, dataset: Dataset) -> DataVersion:
    version = catalog_services.current_version(session, dataset=dataset)
    if (version is None or version.id != extract.data_version_id
            or version.sha256 != extract.data_version_sha256):
        raise Conflict("datasættets dataversion er ændret, efter udtrækket blev bestilt; bestil "
                       "et nyt udtræk")
    return version


@contextmanager
def _dask_client(scheduler_address: str | None) -> Iterator[Any]:
    """A client of the configured cluster, or of a local one in this process (threads)."""
    from distributed import Client, LocalCluster  # imported only for large extracts

    if scheduler_address:
        with Client(scheduler_address) as client:
            yield client
        return
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@dataclass(frozen=True)
class _Built:
    """An extract written to its file, with what its result records."""

    permit: Permit
    dataset: Dataset
    manifest: dict[str, Any]
    report: dict[str, Any]
    people: list[Any]
    finished: datetime
    audit_details: dict[str, Any]


def _build(session: Session, *, extract: Extract, keyring: Keyring, data_dir: Path,
           now: datetime, on_progress: ProgressCallback | None, batch_rows: int,
           dask_min_rows: int | None, dask_scheduler_address: str | None, into: Path
           ) -> _Built:
    """Run the pipeline into the encrypted file `into`; record nothing yet."""
    permit = access_services.require_permit(session, permit_id=extract.permit_id)
    status = permit.status_at(now)
    if status != "active":
        raise access_services.unusable_permit(status)
    dataset = catalog_services.require_dataset(session, dataset_id=extract.dataset_id)
    version = _usable_version(session, extract, dataset)
    plan = plan_for(session, permit=permit, dataset=dataset, keyring=keyring)
    chunks_per_pass = max(1, -(-int(version.number_of_rows or 0) // batch_rows))

    def frames_of(of: DataVersion, of_plan: pipeline.ExtractPlan) -> Iterator[pd.DataFrame]:
        return catalog_services.read_version_frames(
            of, keyring=keyring, data_dir=data_dir,
            columns=of_plan.input_columns, batch_rows=batch_rows)

    def frames() -> Iterator[pd.DataFrame]:
        return frames_of(version, plan)

    companions = assessment.companions_for(
        session, permit=permit, dataset=dataset, frames_of=frames_of,
        plan_of=lambda p, d: plan_for(session, permit=p, dataset=d, keyring=keyring))

    def progress(pass_number: int, chunk: int) -> None:
        if on_progress:
            done = (pass_number - 1) * chunks_per_pass + chunk + 1
            on_progress(min(0.95, 0.95 * done / (2 * chunks_per_pass)))

    on_dask = dask_min_rows is not None and (version.number_of_rows or 0) >= dask_min_rows
    subject_keys: list[np.ndarray] = []
    with ExitStack() as stack:
        if on_dask:
            client = stack.enter_context(_dask_client(dask_scheduler_address))
            released = pipeline.run_dask(frames, plan, client=client, companions=companions,
                                         on_chunk=progress)
        else:
            released = pipeline.run_pandas(frames, plan, companions=companions,
                                           on_chunk=progress)

        def frames_out() -> Iterator[pd.DataFrame]:
            for chunk in released.chunks:
                subject_keys.append(chunk.subject_keys)
                yield chunk.frame

        # Chunk by chunk from the pipeline through the Parquet writer into the encrypted file;
        # the compressed Parquet is kept to sign the hash of its CSV form as well.
        parquet = output.ParquetStream(frames_out())
        written: list[bytes] = []

        def kept(pieces: Iterator[bytes]) -> Iterator[bytes]:
            for piece in pieces:
                written.append(piece)
                yield piece

        sha256 = keyring.write_encrypted(into, kept(iter(parquet)),
                                         context=extract_context(extract.id))
    csv_sha256 = output.csv_sha256(b"".join(written))
    written.clear()  # the compressed Parquet is not needed any longer
    anonymisation = released.decision.anonymisation
    finished = utcnow()
    manifest = output.sign_manifest(
        {
            "extract_id": extract.id,
            "permit_id": permit.id,
            "dataset_id": dataset.id,
            "rows_in": released.decision.selection.rows_read,
            "rows_out": parquet.rows,
            "rows_suppressed": anonymisation.rows_suppressed,
            "k": anonymisation.achieved_k,
            "columns": parquet.columns,
            "sha256": sha256,
            "csv_sha256": csv_sha256,
            "created_at": finished.isoformat(),
            **released.decision.manifest_fields(plan),
        },
        key=keyring.signing_key, public_key_b64=keyring.public_key_b64)
    people = np.unique(np.concatenate(subject_keys)) if subject_keys else np.array([])
    report = {
        "rows_selected": released.decision.selection.rows_selected,
        "persons_out": len(people),
        "k_required": plan.k,
        "generalisation": dict(zip(anonymisation.names, anonymisation.node, strict=True)),
        "information_loss": round(anonymisation.information_loss, 4),
        "l_diversity": plan.l_diversity,
        "executor": "dask" if on_dask else "pandas",
    }
    return _Built(permit=permit, dataset=dataset, manifest=manifest, report=report,
                  people=people.tolist(), finished=finished,
                  audit_details={"permit_id": permit.id, "dataset_id": dataset.id,
                                 "rows_out": parquet.rows,
                                 "rows_suppressed": anonymisation.rows_suppressed,
                                 "sha256": sha256})


def _record(session: Session, *, extract: Extract, built: _Built, path: Path, data_dir: Path
            ) -> Extract:
    """Record a built extract: its data uses, manifest, report, audit entry and notice."""
    permit, dataset = built.permit, built.dataset
    consent_services.record_data_uses(
        session, extract_id=extract.id, permit_id=permit.id, dataset_id=dataset.id,
        holder_org_id=dataset.publisher_org_id, company_org_id=permit.company_org_id,
        purpose=permit.purpose, subject_keys=built.people, at=built.finished)
    extract.report = built.report
    extract.manifest = built.manifest
    extract.path = str(path.relative_to(data_dir))
    extract.byte_size = path.stat().st_size
    extract.status, extract.progress, extract.error = "succeeded", 1.0, None
    extract.finished_at = built.finished
    extract.lease_owner = extract.lease_expires_at = None
    audit.record_audit(
        session, actor=None, action="extract.succeeded", subject_type="extract",
        subject_id=str(extract.id), details=built.audit_details)
    tell_company(session, extract)
    return extract
