"""Business rules of the secure processing environment: workspaces, jobs, their outputs.

A permit for pseudonymised (record-level) data opens a workspace. The company submits scripts;
a job runs each one in the sandbox against the permit's data, prepared by the delivery pipeline,
and every file the script leaves in /output/ is checked, kept encrypted and queued for the data
holders' output checkers. The edge (view, worker) owns the transactions.
"""
from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit, leases, leftovers
from marketplace.access import services as access_services
from marketplace.access import sla
from marketplace.access.models import Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset
from marketplace.consent import services as consent_services
from marketplace.db import utcnow
from marketplace.delivery import leaks
from marketplace.delivery import services as delivery_services
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.notifications import services as notifications
from marketplace.notifications.kinds import COMPANY
from marketplace.security import Keyring
from marketplace.workspace import checks, dummy, prepare, sandbox
from marketplace.workspace.environment import AnalysisEnvironment, readable_by_others
from marketplace.workspace.models import (
    DEFAULT_CELL_THRESHOLD,
    DEFAULT_OUTPUT_TYPES,
    OutputPolicy,
    WorkspaceJob,
    WorkspaceOutput,
    output_context,
    output_path,
)

LEASE = leases.DEFAULT_LEASE
MAX_ATTEMPTS = leases.MAX_ATTEMPTS
REVIEW_WORKING_DAYS = 5
MAX_OUTPUT_DEPTH = 2
ACRO_RESULTS = "results.json"
MAX_ACRO_BYTES = 5 * 1024 * 1024

# Why a job failed, stored with it as Danish source text and translated where it is shown.
OUTCOME_MESSAGES = {
    "timed_out": N_("scriptet kørte længere end tidsgrænsen og blev stoppet"),
    "cpu_exceeded": N_("scriptet brugte mere CPU-tid end grænsen og blev stoppet"),
    "file_too_large": N_("scriptet skrev en fil, der var større end grænsen, og blev stoppet"),
    "output_too_large": N_("scriptets resultater var større (eller havde flere filer) end "
                           "grænsen; intet af dem blev gemt"),
    "killed": N_("scriptet blev stoppet (det brugte mere hukommelse eller flere processer end "
                 "grænserne)"),
    "cancelled": N_("jobbet blev annulleret"),
    "not_started": N_("sandkassen kunne ikke starte"),
}


# --- workspaces ------------------------------------------------------------------------------


def _require_permit_for(session: Session, *, permit_id: int, actor: Principal) -> Permit:
    permit = access_services.require_visible_permit(session, permit_id=permit_id, actor=actor)
    if not (actor.is_operator or actor.belongs_to(permit.company_org_id)):
        raise Forbidden("analysemiljøet tilhører en anden organisation")
    return permit


def require_workspace_permit(session: Session, *, permit_id: int, actor: Principal,
                             now: datetime, to_run: bool = False) -> Permit:
    """The permit whose workspace the actor may see (its company; the operator read-only).

    Raises NotFound, Forbidden (another organisation, or the operator running a job), Conflict
    (the permit is not active, or is for anonymised data, which has no workspace).
    """
    permit = _require_permit_for(session, permit_id=permit_id, actor=actor)
    if to_run and not actor.belongs_to(permit.company_org_id):
        raise Forbidden("kun virksomheden med tilladelsen kan køre job")
    if not permit.pseudonymised:
        raise Conflict("tilladelsen gælder anonymiserede data, som ikke har et analysemiljø")
    status = permit.status_at(now)
    if status != "active":
        raise access_services.unusable_permit(status)
    return permit


def list_workspaces(session: Session, *, actor: Principal, now: datetime) -> list[Permit]:
    """The active permits to pseudonymised data of the actor's company (all for the operator),
    newest first: each has a workspace."""
    if actor.org_id is None and not actor.is_operator:
        raise Forbidden("kun organisationer har tilladelser")
    query = (sa.select(Permit).where(Permit.pseudonymised.is_(True),
                                     Permit.stored_status == "active", Permit.valid_until > now)
             .order_by(Permit.id.desc()))
    if not actor.is_operator:
        query = query.where(Permit.company_org_id == actor.org_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class WorkspaceDataset:
    dataset: Dataset
    columns: list[dummy.DummyColumn]
    rows: int


@dataclass(frozen=True)
class Workspace:
    permit: Permit
    datasets: list[WorkspaceDataset]
    environment: AnalysisEnvironment
    limits: sandbox.Limits
    jobs: list[WorkspaceJob]


def _permit_datasets(session: Session, permit: Permit) -> list[WorkspaceDataset]:
    found = []
    for entry in permit.datasets:
        dataset = catalog_services.require_dataset(session, dataset_id=entry["dataset_id"])
        version = catalog_services.current_version(session, dataset=dataset)
        found.append(WorkspaceDataset(
            dataset=dataset,
            columns=dummy.dummy_columns(dataset.columns, permitted=entry.get("columns") or (),
                                        subject_column=dataset.subject_column),
            rows=int(version.number_of_rows or 0) if version else 0,
        ))
    return found


def open_workspace(session: Session, *, permit_id: int, actor: Principal, now: datetime,
                   environment: AnalysisEnvironment, limits: sandbox.Limits) -> Workspace:
    """The workspace of a permit: datasets with their columns, environment, limits, jobs."""
    permit = require_workspace_permit(session, permit_id=permit_id, actor=actor, now=now)
    jobs = list(session.scalars(sa.select(WorkspaceJob).where(
        WorkspaceJob.permit_id == permit.id).order_by(WorkspaceJob.id.desc())))
    return Workspace(permit, _permit_datasets(session, permit), environment, limits, jobs)


@dataclass(frozen=True)
class DummyFile:
    filename: str
    media_type: str
    body: bytes


def dummy_data(session: Session, *, permit_id: int, dataset_id: int, actor: Principal,
               fmt: str, now: datetime, rows: int = dummy.DEFAULT_ROWS) -> DummyFile:
    """Synthetic rows with the permit's columns of one dataset, from its descriptor only.

    Raises NotFound (dataset not in the permit), Forbidden, Conflict, Invalid (format).
    """
    if fmt not in ("parquet", "csv"):
        raise Invalid.field("format", N_("formatet skal være parquet eller csv"))
    permit = require_workspace_permit(session, permit_id=permit_id, actor=actor, now=now)
    chosen = next((d for d in _permit_datasets(session, permit) if d.dataset.id == dataset_id),
                  None)
    if chosen is None:
        raise NotFound("tilladelsen omfatter ikke datasæt {dataset}", dataset=dataset_id)
    # The seed names the permit and dataset, never the data: the same file every time.
    seed = int.from_bytes(hashlib.sha256(f"{permit.id}:{dataset_id}".encode()).digest()[:8],
                          "big")
    frame = dummy.dummy_frame(chosen.columns, rows=rows, seed=seed,
                              temporal=chosen.dataset.temporal or {})
    stem = f"dummy-synthetic-permit-{permit.id}-dataset-{dataset_id}"
    if fmt == "csv":
        return DummyFile(f"{stem}.csv", "text/csv; charset=utf-8", dummy.to_csv(frame))
    return DummyFile(f"{stem}.parquet", "application/vnd.apache.parquet",
                     dummy.to_parquet(frame))


# --- jobs ------------------------------------------------------------------------------------


def get_job(session: Session, *, job_id: int) -> WorkspaceJob | None:
    return session.get(WorkspaceJob, job_id)


def require_job(session: Session, *, job_id: int) -> WorkspaceJob:
    """Return the job; raise NotFound."""
    job = get_job(session, job_id=job_id)
    if job is None:
        raise NotFound("job {id} findes ikke", id=job_id)
    return job


def require_visible_job(session: Session, *, job_id: int, actor: Principal) -> WorkspaceJob:
    """Return the job for its company or the operator; raise NotFound (also for another
    organisation's job: its id does not reveal that it exists)."""
    job = require_job(session, job_id=job_id)
    if not (actor.is_operator or actor.belongs_to(job.company_org_id)):
        raise NotFound("job {id} findes ikke", id=job_id)
    return job


def submit_job(session: Session, *, actor: Principal, permit_id: int, name: str, script: str,
               now: datetime) -> WorkspaceJob:
    """Queue a script to run against the permit's data; raise NotFound, Forbidden, Conflict,
    Invalid (an empty script)."""
    permit = require_workspace_permit(session, permit_id=permit_id, actor=actor, now=now,
                                      to_run=True)
    if not script.strip():
        raise Invalid.field("script", N_("scriptet er tomt"))
    job = WorkspaceJob(
        permit_id=permit.id, company_org_id=permit.company_org_id, name=name, script=script,
        script_sha256=hashlib.sha256(script.encode()).hexdigest(),
        submitted_by=audit.actor_label(actor), status="queued", progress=0.0, attempts=0,
        cancel_requested=False, log="", created_at=now)
    session.add(job)
    session.flush()
    audit.record_audit(session, actor=actor, action="workspace.job_submitted",
                       subject_type="workspace_job", subject_id=str(job.id),
                       details={"permit_id": permit.id, "name": name,
                                "script_sha256": job.script_sha256})
    return job


def cancel_job(session: Session, *, actor: Principal, job_id: int, now: datetime
               ) -> WorkspaceJob:
    """Cancel a queued job at once, or ask the worker to stop a running one.

    Raises NotFound, Forbidden (another company, or the operator), Conflict (already finished).
    """
    job = require_visible_job(session, job_id=job_id, actor=actor)
    if not actor.belongs_to(job.company_org_id):
        raise Forbidden("kun virksomheden med tilladelsen kan annullere dens job")
    if job.is_finished:
        raise Conflict("jobbet er allerede afsluttet")
    job.cancel_requested = True
    if job.status == "queued":
        job.status, job.finished_at = "cancelled", now
        job.lease_owner = job.lease_expires_at = None
    audit.record_audit(session, actor=actor, action="workspace.job_cancelled",
                       subject_type="workspace_job", subject_id=str(job.id),
                       details={"status": job.status})
    return job


JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def page_job_queue(session: Session, *, actor: Principal, status: str | None, offset: int,
                   limit: int) -> tuple[list[WorkspaceJob], int]:
    """One page of every company's workspace jobs, newest first, with the total: the
    operator's view of the queue. Raises Forbidden for anyone else."""
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør ser hele jobkøen")
    query = sa.select(WorkspaceJob)
    if status is not None:
        query = query.where(WorkspaceJob.status == status)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(WorkspaceJob.created_at.desc(),
                                           WorkspaceJob.id.desc()).offset(offset).limit(limit))
    return list(items), total


def retry_job(session: Session, *, actor: Principal, job_id: int, now: datetime
              ) -> WorkspaceJob:
    """Queue a failed job again (the same script); raise Conflict unless it failed, Forbidden
    for others, and Conflict when the permit is no longer active.

    The operator may retry too (after a fault of the platform): the company's own script runs
    again and its outputs still go to the company's output checking.
    """
    job = require_visible_job(session, job_id=job_id, actor=actor)
    require_workspace_permit(session, permit_id=job.permit_id, actor=actor, now=now,
                             to_run=not actor.is_operator)
    if job.status != "failed":
        raise Conflict("kun et mislykket job kan prøves igen")
    job.status, job.progress, job.error, job.log = "queued", 0.0, None, ""
    job.attempts, job.cancel_requested, job.finished_at = 0, False, None
    job.lease_owner = job.lease_expires_at = None
    audit.record_audit(session, actor=actor, action="workspace.job_retried",
                       subject_type="workspace_job", subject_id=str(job.id), details={})
    return job


def claim_next_job(session: Session, *, worker: str, now: datetime,
                   job_id: int | None = None, lease: timedelta = LEASE) -> WorkspaceJob | None:
    """Lease the oldest queued job, or one whose worker's lease ran out (it stopped).

    A job cancelled while it waited is closed; one whose workers stopped MAX_ATTEMPTS times is
    failed instead of tried again.
    """

    def settle(job: WorkspaceJob) -> bool:
        if job.cancel_requested:
            job.status, job.finished_at = "cancelled", now
            job.lease_owner = job.lease_expires_at = None
        return job.cancel_requested

    return leases.claim_next(
        session, WorkspaceJob, worker=worker, now=now, lease=lease, job_id=job_id,
        settle=settle,
        give_up=lambda job: fail_job(session, job_id=job.id, now=now,
                                     message="the job stopped repeatedly while it ran"))


def fail_job(session: Session, *, job_id: int, message: str, now: datetime,
             log: str | None = None) -> WorkspaceJob:
    """Mark a job failed with a message the company can act on."""
    job = require_job(session, job_id=job_id)
    job.status, job.error, job.finished_at = "failed", message, now
    if log is not None:
        job.log = log
    job.lease_owner = job.lease_expires_at = None
    audit.record_audit(session, actor=None, action="workspace.job_failed",
                       subject_type="workspace_job", subject_id=str(job.id),
                       details={"error": message})
    tell_submitter(session, job)
    return job


def tell_submitter(session: Session, job: WorkspaceJob) -> None:
    """Tell whoever submitted the job that it finished (unless they stopped it themselves)."""
    if job.status == "cancelled":
        return
    notifications.notify(
        session, kind="job_finished",
        audience=notifications.submitter(job.submitted_by, org_id=job.company_org_id,
                                         roles=COMPANY),
        params={"name": job.name, "status": job.status}, link=f"/workspace/{job.permit_id}")


# --- running a job ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobFolders:
    """A job's private folder (mode 0700) with its data, script and output folders."""

    root: Path
    data: Path
    output: Path


def job_folder(work_root: Path, *, job_id: int, attempt: int) -> Path:
    """A job's private folder, one per attempt: a worker that stalled past its lease keeps its
    own folder (and removes it when it notices) while the worker that took the job over
    prepares a fresh one beside it."""
    return work_root / f"job-{job_id}-{attempt}"


def make_job_folders(work_root: Path, *, job_id: int, uid: int | None, attempt: int = 1
                     ) -> JobFolders:
    """Create the job's private folder under `work_root`, owned by the sandbox user."""
    work_root.mkdir(parents=True, exist_ok=True)
    # The sandbox user must pass through (never list) the work root to reach its own folder.
    work_root.chmod(0o711)
    root = job_folder(work_root, job_id=job_id, attempt=attempt)
    remove_folder(root)  # what an earlier run left: data, script, scratch files, outputs
    root.mkdir(mode=0o700)
    folders = JobFolders(root, root / "data", root / "output")
    for folder in (folders.data, folders.output):
        folder.mkdir(mode=0o700)
    if uid:
        for path in (root, folders.data, folders.output):
            os.chown(path, uid, uid)
    return folders


def prepare_job_data(session: Session, *, permit: Permit, keyring: Keyring, data_dir: Path,
                     folder: Path, uid: int | None) -> dict[str, Any]:
    """Write the permit's data sets as Parquet into `folder`; return their files and counts.

    Raises Conflict (no valid data version) and Invalid (the leak scan found an identifier).
    """
    files: dict[str, Path] = {}
    counts: dict[str, dict[str, int]] = {}
    persons: dict[int, tuple[int, Any]] = {}
    for entry in permit.datasets:
        dataset = catalog_services.require_dataset(session, dataset_id=entry["dataset_id"])
        version = catalog_services.current_version(session, dataset=dataset)
        if version is None or not version.sha256:
            raise Conflict("datasæt {dataset} har ingen gyldig dataversion", dataset=dataset.id)
        plan = delivery_services.plan_for(session, permit=permit, dataset=dataset,
                                          keyring=keyring)
        frames = catalog_services.read_version_frames(
            version, keyring=keyring, data_dir=data_dir, columns=plan.input_columns,
            batch_rows=delivery_services.BATCH_ROWS)
        order_key = keyring.derive(f"permit:{permit.id}:workspace-order:{dataset.id}")
        try:
            prepared = prepare.prepare(frames, plan, order_key=order_key)
        except leaks.LeakFound as found:
            raise Invalid("data kunne ikke forberedes sikkert: {findings}",
                          findings="; ".join(found.findings)) from None
        path = folder / f"{dataset.id}.parquet"
        prepare.write_parquet(prepared.frame, path)
        path.chmod(0o400)
        if uid:
            os.chown(path, uid, uid)
        files[str(dataset.id)] = path
        counts[str(dataset.id)] = {"rows_read": prepared.rows_read,
                                   "rows": len(prepared.frame), "persons": prepared.persons}
        persons[dataset.id] = (dataset.publisher_org_id, prepared.subject_keys)
    return {"files": files, "counts": counts, "persons": persons}


def record_workspace_data_uses(session: Session, *, job: WorkspaceJob, permit: Permit,
                               persons: dict[int, tuple[int, Any]], at: datetime) -> None:
    """Tell each citizen whose records the job analysed (once per permit and dataset: every job
    of a permit sees the same persons, consent being fixed at approval)."""
    for dataset_id, (holder_org_id, subject_keys) in persons.items():
        consent_services.record_data_uses(
            session, workspace_job_id=job.id, permit_id=permit.id, dataset_id=dataset_id,
            holder_org_id=holder_org_id, company_org_id=permit.company_org_id,
            purpose=permit.purpose, subject_keys=subject_keys, at=at)


def output_rules(session: Session, *, permit: Permit, cohort_size: int | None
                 ) -> checks.OutputRules:
    """The strictest of the holders' output rules over the permit's datasets (defaults where a
    holder set none)."""
    policies = list(session.scalars(sa.select(OutputPolicy).where(
        OutputPolicy.dataset_id.in_(permit.dataset_ids))))
    threshold = max([p.cell_threshold for p in policies] + [DEFAULT_CELL_THRESHOLD])
    allowed = set(DEFAULT_OUTPUT_TYPES)
    for policy in policies:
        allowed &= {t.lower().lstrip(".") for t in policy.allowed_types}
    return checks.OutputRules(cell_threshold=threshold, allowed_types=frozenset(allowed),
                              cohort_size=cohort_size)


@dataclass(frozen=True)
class FoundOutput:
    name: str
    path: Path


def list_outputs(output_dir: Path, *, max_files: int) -> tuple[list[FoundOutput], list[str]]:
    """The regular files the script left, and the entries refused (links, devices, too deep)."""
    found: list[FoundOutput] = []
    refused: list[str] = []
    for root, dirs, files in os.walk(output_dir, followlinks=False):
        depth = len(Path(root).relative_to(output_dir).parts)
        for name in sorted(dirs):
            path = Path(root) / name
            if path.is_symlink():
                refused.append(f"{path.relative_to(output_dir)} (a link)")
            elif depth + 1 > MAX_OUTPUT_DEPTH:
                refused.append(f"{path.relative_to(output_dir)} (nested too deep)")
        dirs[:] = [d for d in dirs
                   if not (Path(root) / d).is_symlink() and depth + 1 <= MAX_OUTPUT_DEPTH]
        for name in sorted(files):
            path = Path(root) / name
            relative = str(path.relative_to(output_dir))
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                refused.append(f"{relative} (a link)")
            elif not stat.S_ISREG(mode):
                refused.append(f"{relative} (not a regular file)")
            elif len(found) >= max_files:
                refused.append(f"{relative} (too many files)")
            else:
                found.append(FoundOutput(relative, path))
    return found, refused


def _acro_results(found: list[FoundOutput]) -> dict[str, Any] | None:
    for item in found:
        if Path(item.name).name == ACRO_RESULTS and item.path.stat().st_size <= MAX_ACRO_BYTES:
            try:
                data = json.loads(item.path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None
            return data if isinstance(data, dict) else None
    return None


def _acro_entry(acro: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """ACRO's record of the output that wrote file `name` (status, exception, comments)."""
    results = (acro or {}).get("results")
    if not isinstance(results, dict):
        return None
    for uid, entry in results.items():
        if not isinstance(entry, dict):
            continue
        files = [f.get("name") for f in entry.get("files") or [] if isinstance(f, dict)]
        if Path(name).name in files:
            return {"uid": str(uid), "status": entry.get("status"),
                    "type": entry.get("type"), "properties": entry.get("properties"),
                    "exception": entry.get("exception") or "",
                    "comments": entry.get("comments") or [], "outcome": entry.get("outcome")}
    return None


def _justification(entry: dict[str, Any] | None) -> str:
    if not entry:
        return ""
    comments = entry.get("comments") or []
    parts = [str(entry.get("exception") or "")] + [str(c) for c in comments]
    return "\n".join(p for p in parts if p)[:5000]


@dataclass(frozen=True)
class Collected:
    """The outputs recorded in the session, encrypted under names of this process's own until
    `keep` renames them into place (just before the commit), and the entries refused."""

    refused: list[str]
    staged: list[tuple[Path, Path]]

    def keep(self) -> None:
        for staged, final in self.staged:
            os.replace(staged, final)

    def discard(self) -> None:
        for staged, final in self.staged:
            staged.unlink(missing_ok=True)
            final.unlink(missing_ok=True)


def collect_outputs(session: Session, *, job: WorkspaceJob, permit: Permit, output_dir: Path,
                    keyring: Keyring, data_dir: Path, limits: sandbox.Limits,
                    cohort_size: int | None, now: datetime) -> Collected:
    """Check, encrypt and record every file the script left (kept by `Collected.keep`)."""
    found, refused = list_outputs(output_dir, max_files=limits.output_files)
    rules = output_rules(session, permit=permit, cohort_size=cohort_size)
    acro = _acro_results(found)
    if acro is not None:
        rules = checks.OutputRules(cell_threshold=rules.cell_threshold,
                                   allowed_types=rules.allowed_types, max_bytes=rules.max_bytes,
                                   cohort_size=rules.cohort_size, acro_results=acro)
    holders = sorted(set(session.scalars(sa.select(Dataset.publisher_org_id).where(
        Dataset.id.in_(permit.dataset_ids)))))
    due = sla.add_working_days(now, REVIEW_WORKING_DAYS)
    collected = Collected(refused, [])
    for item in found:
        results = checks.check_output(item.path, name=item.name, rules=rules)
        entry = _acro_entry(acro, item.name)
        digest = hashlib.sha256()
        with open(item.path, "rb") as source:
            while block := source.read(1 << 20):
                digest.update(block)
        output = WorkspaceOutput(
            job=job, permit_id=permit.id, name=item.name[:200],
            byte_size=item.path.stat().st_size, sha256=digest.hexdigest(),
            media_type=mimetypes.guess_type(item.name)[0] or "application/octet-stream",
            status="pending_review", checks=[c.to_json() for c in results],
            justification=_justification(entry), acro=entry, holder_org_ids=holders,
            review_due_at=due,
            created_at=now)
        session.add(output)
        session.flush()
        final = output_path(output.id, data_dir=data_dir)
        staged = leftovers.part_path(final)
        collected.staged.append((staged, final))
        keyring.write_encrypted(staged, _read_blocks(item.path),
                                context=output_context(output.id))
        audit.record_audit(session, actor=None, action="workspace.output_recorded",
                           subject_type="workspace_output", subject_id=str(output.id),
                           details={"job_id": job.id, "permit_id": permit.id,
                                    "name": output.name, "sha256": output.sha256,
                                    "checks": {c.rule: c.outcome for c in results}})
    return collected


def _read_blocks(path: Path) -> Any:
    with open(path, "rb") as source:
        while block := source.read(1 << 20):
            yield block


@dataclass(frozen=True)
class RunSettings:
    """What the runner needs beyond the job: keys, folders, environment, limits."""

    keyring: Keyring
    data_dir: Path
    work_root: Path
    environment: Path
    limits: sandbox.Limits
    uid: int | None


def require_environment(root: Path, *, uid: int | None) -> None:
    """Raise Conflict when the analysis environment is missing or out of the sandbox's reach."""
    if not (root / "bin" / "python").exists():
        raise Conflict("analysemiljøet er ikke installeret på denne arbejder (make analysis-env)")
    if uid and not readable_by_others(root):
        raise Conflict("sandkassens brugere kan ikke læse analysemiljøet; installér det i en "
                       "mappe, som alle brugere kan passere")


def run_job(session: Session, *, job: WorkspaceJob, settings: RunSettings, now: datetime,
            should_stop: Callable[[], bool] | None = None,
            on_progress: Callable[[float], None] | None = None,
            hold_lease: Callable[[], None] | None = None) -> WorkspaceJob:
    """Run a leased job end to end: prepare the data, run the sandbox, collect the outputs.

    Nothing of the result (data uses, outputs, status, audit entry) is written before
    `hold_lease` confirmed, in the transaction that records it, that this worker still holds
    the job; it raises leases.LeaseLost when another worker took the job over.

    The job's private folder is removed whatever happens. Raises a DomainError with a message
    the company can act on (permit no longer valid, no data version, data not preparable); the
    caller rolls back and records the failure with `fail_job`.
    """
    permit = access_services.require_permit(session, permit_id=job.permit_id)
    status = permit.status_at(now)
    if status != "active":
        raise access_services.unusable_permit(status)
    require_environment(settings.environment, uid=settings.uid)
    folders = make_job_folders(settings.work_root, job_id=job.id, uid=settings.uid,
                               attempt=job.attempts or 1)
    collected = Collected([], [])
    try:
        prepared = prepare_job_data(session, permit=permit, keyring=settings.keyring,
                                    data_dir=settings.data_dir, folder=folders.data,
                                    uid=settings.uid)
        if on_progress:
            on_progress(0.2)
        run = sandbox.run_script(job.script, environment=settings.environment,
                                 data=prepared["files"], work_dir=folders.root,
                                 output_dir=folders.output, limits=settings.limits,
                                 uid=settings.uid, should_stop=should_stop)
        if on_progress:
            on_progress(0.9)
        if hold_lease is not None:
            hold_lease()
        finished = utcnow()
        if run.outcome != "cancelled":  # the script has read the data
            record_workspace_data_uses(session, job=job, permit=permit,
                                       persons=prepared["persons"], at=finished)
        counts = prepared["counts"]
        job.usage = {"wall_seconds": round(run.wall_seconds, 3), "exit_code": run.exit_code,
                     "outcome": run.outcome, "output_bytes": run.output_bytes,
                     "datasets": counts}
        job.log = run.log
        job.lease_owner = job.lease_expires_at = None
        job.finished_at = finished
        if run.outcome == "cancelled":
            job.status, job.error = "cancelled", OUTCOME_MESSAGES["cancelled"]
        elif run.succeeded:
            cohort = max((c["persons"] for c in counts.values()), default=0) or None
            collected = collect_outputs(session, job=job, permit=permit,
                                        output_dir=folders.output, keyring=settings.keyring,
                                        data_dir=settings.data_dir, limits=settings.limits,
                                        cohort_size=cohort, now=finished)
            if collected.refused:
                job.log += "\n[refused outputs: " + "; ".join(collected.refused) + "]\n"
            job.status, job.error, job.progress = "succeeded", None, 1.0
        else:
            job.status = "failed"
            job.error = OUTCOME_MESSAGES.get(
                run.outcome, f"scriptet sluttede med afslutningskoden {run.exit_code}")
        audit.record_audit(session, actor=None, action=f"workspace.job_{job.status}",
                           subject_type="workspace_job", subject_id=str(job.id),
                           details={"permit_id": permit.id, "outcome": run.outcome,
                                    "outputs": len(job.outputs)})
        tell_submitter(session, job)
        collected.keep()  # the outputs' files, last before the caller commits their rows
        return job
    except BaseException:
        collected.discard()
        raise
    finally:
        remove_folder(folders.root)


def remove_folder(folder: Path) -> None:
    """Remove a job folder, whatever the sandbox left in it (modes it may have changed)."""
    leftovers.remove_tree(folder)


def remove_leftover_files(session: Session, *, data_dir: Path) -> list[Path]:
    """Remove output files that no recorded output points at and whose writer is gone.

    A job encrypts its outputs under names of its own process and renames them into place just
    before its commit: a worker killed before that leaves only files whose writer is known to be
    gone; one killed in that last instant leaves files named like the outputs, which go once
    they are older than the grace period (a live worker may be about to commit them).
    """
    folder = output_path(0, data_dir=data_dir).parent
    if not folder.is_dir():
        return []
    kept = {output_path(output_id, data_dir=data_dir)
            for output_id in session.scalars(sa.select(WorkspaceOutput.id))}
    return leftovers.remove_unreferenced(folder, referenced=kept.__contains__)


# --- the API form ----------------------------------------------------------------------------


def output_to_json(output: WorkspaceOutput) -> dict[str, Any]:
    return {"id": output.id, "name": output.name, "bytes": output.byte_size,
            "status": output.status, "checks": list(output.checks or []),
            "acro": output.acro, "justification": output.justification or "",
            "review_due_at": output.review_due_at.isoformat() if output.review_due_at else None}


def job_to_json(job: WorkspaceJob) -> dict[str, Any]:
    """The API form of a job."""
    return {
        "id": job.id, "permit_id": job.permit_id, "name": job.name, "status": job.status,
        "progress": round(job.progress, 4), "attempts": job.attempts, "log": job.log or "",
        "error": job.error, "script_sha256": job.script_sha256,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "outputs": [output_to_json(o) for o in job.outputs],
    }


def workspace_to_json(workspace: Workspace) -> dict[str, Any]:
    """The API form of a workspace."""
    limits = workspace.limits
    return {
        "permit_id": workspace.permit.id,
        "datasets": [
            {"id": d.dataset.id, "title": d.dataset.title, "rows": d.rows,
             "file": f"/data/{d.dataset.id}.parquet",
             "columns": [{"name": c.name, "type": c.type,
                          "description": c.spec.get("description") or ""}
                         for c in d.columns]}
            for d in workspace.datasets],
        "environment": workspace.environment.to_json(),
        "limits": {"cpu_seconds": limits.cpu_seconds, "memory_mb": limits.memory_mb,
                   "wall_seconds": limits.wall_seconds, "processes": limits.processes,
                   "output_mb": limits.output_mb, "output_files": limits.output_files},
        "jobs": [job_to_json(j) for j in workspace.jobs],
    }
