"""Running workspace jobs: the edge that owns their transactions (worker command, inline thread).

A job is claimed and committed first (its lease is visible to other workers), then run; while
the sandbox runs, the runner renews the lease and reads the cancel flag every few seconds. A
worker that dies leaves an expiring lease that another worker takes over, and a job folder that
the next worker to start removes (`clean_stale_folders`): prepared data never outlives its job.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from flask import Flask

from marketplace import leases
from marketplace.db import utcnow
from marketplace.delivery.jobs import worker_name
from marketplace.errors import DomainError
from marketplace.workspace import environment, services
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


def _lock_path(root: Path, job_id: int) -> Path:
    return root / f"job-{job_id}.lock"


def clean_stale_folders(app: Flask) -> list[str]:
    """Remove job folders that no running job holds (left by a process that died).

    A runner locks `job-N.lock` before it creates `job-N/` and releases it after removing
    the folder, so a folder whose lock can be taken belongs to nobody.
    """
    root = work_root(app)
    removed: list[str] = []
    if not root.exists():
        return removed
    for folder in root.glob("job-*"):
        if not folder.is_dir():
            continue
        handle = os.open(root / f"{folder.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live job holds it
        else:
            services.remove_folder(folder)
            removed.append(folder.name)
        finally:
            os.close(handle)
    return removed


def run_next(app: Flask, *, worker: str, job_id: int | None = None) -> int | None:
    """Claim and run one workspace job; return its id, or None when nothing was waiting."""
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
        last_renewal = time.monotonic()

        def should_stop() -> bool:
            nonlocal last_renewal
            if time.monotonic() - last_renewal < LEASE_RENEW_SECONDS:
                return False
            last_renewal = time.monotonic()
            session.refresh(job, ["cancel_requested"])
            services.renew_job_lease(job, progress=max(job.progress, 0.5), now=utcnow(),
                                     lease=lease)
            session.commit()
            return bool(job.cancel_requested)

        def progress(fraction: float) -> None:
            services.renew_job_lease(job, progress=fraction, now=utcnow(), lease=lease)
            session.commit()

        holder = _hold_folder(settings.work_root, claimed)
        try:
            with leases.Heartbeat(sessions, WorkspaceJob, job_id=claimed, worker=worker,
                                  lease=lease):
                services.run_job(session, job=job, settings=settings, now=utcnow(),
                                 should_stop=should_stop, on_progress=progress)
                session.commit()
        except DomainError as error:
            session.rollback()
            services.fail_job(session, job_id=claimed, message=error.detail, now=utcnow())
            session.commit()
        except Exception as error:  # a bug must not leave the job running forever
            session.rollback()
            log.error("workspace job %s failed unexpectedly: %s", claimed,
                      type(error).__name__)
            services.fail_job(session, job_id=claimed, now=utcnow(),
                              message="the job failed because of an internal error")
            session.commit()
        finally:
            services.remove_folder(settings.work_root / f"job-{claimed}")
            os.close(holder)
        return claimed
    finally:
        session.close()


def _hold_folder(root: Path, job_id: int) -> int:
    """Lock the job's folder (before it exists) so that no starting worker removes it."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)
    handle = os.open(_lock_path(root, job_id), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def start_inline(app: Flask, job_id: int) -> threading.Thread:
    """Run one job in a background thread of this process (embedded default)."""

    def work() -> None:
        with app.app_context():
            clean_stale_folders(app)  # a crashed process of this instance may have left one
            run_next(app, worker=worker_name("inline"), job_id=job_id)

    thread = threading.Thread(target=work, name=f"workspace-job-{job_id}", daemon=True)
    thread.start()
    return thread
