"""Running extract jobs: the edge that owns their transactions (worker command, inline thread).

A job is claimed and committed first (its lease is visible to other workers), then built in the
same session, which commits progress as it goes and the result at the end. A failure rolls the
build back and records the error in a fresh transaction; a crash leaves an expiring lease.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from marketplace import leases
from marketplace.db import utcnow
from marketplace.delivery import services
from marketplace.delivery.models import Extract
from marketplace.errors import DomainError

log = logging.getLogger(__name__)

ProgressHook = Callable[[int, float], None]
# Data versions of at least this many rows are extracted on Dask (config DASK_MIN_ROWS).
DEFAULT_DASK_MIN_ROWS = 5_000_000


def worker_name(prefix: str = "worker") -> str:
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"


def run_next(app: Flask, *, worker: str, extract_id: int | None = None,
             on_progress: ProgressHook | None = None) -> int | None:
    """Claim and build one extract; return its id, or None when nothing was waiting.

    A worker that finds its lease taken over (it stalled past it and another worker claimed
    the extract) stops and writes nothing: no file, no status, no audit entry.
    """
    dask_min_rows = int(app.config.get("DASK_MIN_ROWS", DEFAULT_DASK_MIN_ROWS))
    dask_scheduler_address = app.config.get("DASK_SCHEDULER_ADDRESS") or None
    lease = leases.lease_from(app.config)
    sessions = app.extensions["marketplace.sessionmaker"]
    session = sessions()
    try:
        extract = services.claim_next_extract(session, worker=worker, now=utcnow(),
                                              extract_id=extract_id, lease=lease)
        session.commit()
        if extract is None:
            return None
        job_id = extract.id
        heartbeat = leases.Heartbeat(sessions, Extract, job_id=job_id, worker=worker,
                                     lease=lease)

        def progress(fraction: float) -> None:
            heartbeat.check()
            leases.report_progress(session, Extract, job_id=job_id, worker=worker,
                                   progress=fraction, now=utcnow(), lease=lease)
            session.commit()
            if on_progress:
                on_progress(job_id, fraction)

        def hold_lease() -> None:
            leases.hold(session, Extract, job_id=job_id, worker=worker, now=utcnow(),
                        lease=lease)

        with heartbeat:
            built = _build(app, session, extract, progress=progress, hold_lease=hold_lease,
                           dask_min_rows=dask_min_rows,
                           dask_scheduler_address=dask_scheduler_address)
        if built and on_progress:
            on_progress(job_id, 1.0)
        return job_id
    finally:
        session.close()


def _build(app: Flask, session: Session, extract: Extract, *,
           progress: Callable[[float], None], hold_lease: Callable[[], None],
           dask_min_rows: int, dask_scheduler_address: str | None) -> bool:
    """Build a claimed extract and commit its result, or record why it failed; return False
    when the extract was taken over by another worker (nothing was recorded)."""
    keyring = app.extensions["marketplace.keyring"]
    data_dir = app.config["DATA_DIR"]
    job_id = extract.id
    try:
        services.run_extract(session, extract=extract, keyring=keyring, data_dir=data_dir,
                             now=utcnow(), on_progress=progress, hold_lease=hold_lease,
                             dask_min_rows=dask_min_rows,
                             dask_scheduler_address=dask_scheduler_address)
        session.commit()
        return True
    except leases.LeaseLost:
        session.rollback()
        _taken_over(job_id)
        return False
    except DomainError as error:
        session.rollback()
        message = error.detail
    except Exception as error:  # a bug must not leave the job running forever
        session.rollback()
        log.exception("extract %s failed unexpectedly: %s", job_id, type(error).__name__)
        message = "the extract failed because of an internal error"
    try:
        hold_lease()  # the failure is this worker's to record only while it holds the job
    except leases.LeaseLost:
        session.rollback()
        _taken_over(job_id)
        return False
    services.fail_extract(session, extract_id=job_id, message=message, now=utcnow())
    session.commit()
    return True


def _taken_over(job_id: int) -> None:
    log.warning("extract %s was taken over by another worker after this worker's lease ran "
                "out; this worker's run is dropped", job_id)


def start_inline(app: Flask, extract_id: int) -> threading.Thread:
    """Build one extract in a background thread of this process (embedded default)."""

    def work() -> None:
        with app.app_context():
            run_next(app, worker=worker_name("inline"), extract_id=extract_id)

    thread = threading.Thread(target=work, name=f"extract-{extract_id}", daemon=True)
    thread.start()
    return thread
