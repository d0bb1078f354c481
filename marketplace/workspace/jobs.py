"""Running workspace jobs: the edge that owns their transactions (worker command, inline thread).

A job is claimed and committed first (its lease is visible to other workers), then run; while
the sandbox runs, the runner renews the lease and reads the cancel flag every few seconds. A
worker that dies leaves an expiring lease that another worker takes over, and a job folder that
the worker taking the job over, or the next worker to start (`clean_stale_folders`), removes:
prepared data and partial outputs never outlive their run. A worker that stalls past its lease
and finds the job taken over stops the script and records nothing.
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from marketplace import leases, leftovers
from marketplace.db import utcnow
from marketplace.delivery.jobs import worker_name
from marketplace.errors import DomainError
from marketplace.workspace import environment, sandbox, services
from marketplace.workspace.models import WorkspaceJob

log = logging.getLogger(__name__)

LEASE_RENEW_SECONDS = 5.0


def work_root(app: Flask) -> Path:
    """Where job folders live: WORKSPACE_WORK_DIR, or a folder of this instance under the
    system's temporary folder (every folder above a job's must be passable by its sandbox)."""
    configured = app.config.get("WORKSPACE_WORK_DIR")
    if configured:
        return Path(configured)
    tag = hashlib.sha256(str(app.instance_path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "marketplace-workspace" / tag


def settings_for(app: Flask, job_id: int) -> services.RunSettings:
    return services.RunSettings(
        keyring=app.extensions["marketplace.keyring"],
        data_dir=Path(app.config["DATA_DIR"]),
        work_root=work_root(app),
        environment=environment.environment_root(app.config),
        limits=environment.limits_from(app.config),
        uid=environment.sandbox_uid(job_id, app.config),
    )


def clean_stale_folders(app: Flask) -> list[str]:
    """Remove job folders that no running job holds (left by a process that died).

    A runner locks `job-N-A.lock` before it creates `job-N-A/` (job N, attempt A) and releases
    it after removing the folder, so a folder whose lock can be taken belongs to nobody. The
    control groups of jobs whose worker is gone go too.
    """
    sandbox.JobCgroups.remove_abandoned()
    return [folder.name for folder in leftovers.remove_unheld_folders(work_root(app), "job-*")]


def run_next(app: Flask, *, worker: str, job_id: int | None = None) -> int | None:
    """Claim and run one workspace job; return its id, or None when nothing was waiting.

    A worker that finds its lease taken over (it stalled past it and another worker claimed
    the job) stops the script and writes nothing: no outputs, no status, no audit entry.
    """
    lease = leases.lease_from(app.config)
    sessions = app.extensions["marketplace.sessionmaker"]
    session = sessions()
    try:
        job = services.claim_next_job(session, worker=worker, now=utcnow(), job_id=job_id,
                                      lease=lease)
        session.commit()
        if job is None:
            return None
        claimed = job.id
        settings = settings_for(app, claimed)
        heartbeat = leases.Heartbeat(sessions, WorkspaceJob, job_id=claimed, worker=worker,
                                     lease=lease)
        last_renewal = time.monotonic()

        def should_stop() -> bool:
            nonlocal last_renewal
            if heartbeat.lost:
                return True  # taken over: the new owner runs the script
            if time.monotonic() - last_renewal < LEASE_RENEW_SECONDS:
                return False
            last_renewal = time.monotonic()
            session.refresh(job, ["cancel_requested"])
            try:
                leases.report_progress(session, WorkspaceJob, job_id=claimed, worker=worker,
                                       progress=max(job.progress, 0.5), now=utcnow(),
                                       lease=lease)
            except leases.LeaseLost:
                heartbeat.lost = True
            session.commit()
            return bool(job.cancel_requested) or heartbeat.lost

        def progress(fraction: float) -> None:
            heartbeat.check()
            leases.report_progress(session, WorkspaceJob, job_id=claimed, worker=worker,
                                   progress=fraction, now=utcnow(), lease=lease)
            session.commit()

        def hold_lease() -> None:
            leases.hold(session, WorkspaceJob, job_id=claimed, worker=worker, now=utcnow(),
                        lease=lease)

        # Folders of earlier attempts whose worker died (partial outputs, scratch files) go
        # before this attempt starts; a stalled worker's folder is its own to remove.
        leftovers.remove_unheld_folders(settings.work_root, f"job-{claimed}-*")
        folder = services.job_folder(settings.work_root, job_id=claimed, attempt=job.attempts)
        holder = _hold_folder(settings.work_root, folder)
        try:
            with heartbeat:
                services.run_job(session, job=job, settings=settings, now=utcnow(),
                                 should_stop=should_stop, on_progress=progress,
                                 hold_lease=hold_lease)
                session.commit()
        except leases.LeaseLost:
            session.rollback()
            _taken_over(claimed)
        except DomainError as error:
            session.rollback()
            _record_failure(session, claimed, error.detail, hold_lease)
        except Exception as error:  # a bug must not leave the job running forever
            session.rollback()
            log.error("workspace job %s failed unexpectedly: %s", claimed,
                      type(error).__name__)
            _record_failure(session, claimed, "the job failed because of an internal error",
                            hold_lease)
        finally:
            leftovers.release_folder(folder, holder)
        return claimed
    finally:
        session.close()


def _record_failure(session: Session, job_id: int, message: str,
                    hold_lease: Callable[[], None]) -> None:
    """Record why the job failed, if this worker still holds it."""
    try:
        hold_lease()
    except leases.LeaseLost:
        session.rollback()
        _taken_over(job_id)
        return
    services.fail_job(session, job_id=job_id, message=message, now=utcnow())
    session.commit()


def _taken_over(job_id: int) -> None:
    log.warning("workspace job %s was taken over by another worker after this worker's lease "
                "ran out; this worker's run is dropped", job_id)


def _hold_folder(root: Path, folder: Path) -> int:
    """Lock the job's folder (before it exists) so that no starting worker removes it."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)
    return leftovers.hold_folder(folder)


def start_inline(app: Flask, job_id: int) -> threading.Thread:
    """Run one job in a background thread of this process (embedded default)."""

    def work() -> None:
        with app.app_context():
            clean_stale_folders(app)  # a crashed process of this instance may have left one
            run_next(app, worker=worker_name("inline"), job_id=job_id)

    thread = threading.Thread(target=work, name=f"workspace-job-{job_id}", daemon=True)
    thread.start()
    return thread
