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
    """Claim and build one extract; return its id, or None when nothing was waiting."""
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

        def progress(fraction: float) -> None:
            services.renew_lease(extract, progress=fraction, now=utcnow(), lease=lease)
            session.commit()
            if on_progress:
                on_progress(job_id, fraction)

        heartbeat = leases.Heartbeat(sessions, Extract, job_id=job_id, worker=worker,
                                     lease=lease)
        with heartbeat:
            _build(app, session, extract, progress=progress, dask_min_rows=dask_min_rows,
                   dask_scheduler_address=dask_scheduler_address)
        if on_progress:
            on_progress(job_id, 1.0)
        return job_id
    finally:
        session.close()


def _build(app: Flask, session: Session, extract: Extract, *,
           progress: Callable[[float], None], dask_min_rows: int,
           dask_scheduler_address: str | None) -> None:
    """Build a claimed extract and commit its result, or record why it failed."""
    keyring = app.extensions["marketplace.keyring"]
    data_dir = app.config["DATA_DIR"]
    job_id = extract.id
    try:
        services.run_extract(session, extract=extract, keyring=keyring, data_dir=data_dir,
                             now=utcnow(), on_progress=progress,
                             dask_min_rows=dask_min_rows,
                             dask_scheduler_address=dask_scheduler_address)
        session.commit()
    except DomainError as error:
        session.rollback()
        services.fail_extract(session, extract_id=job_id, message=error.detail,
                              now=utcnow())
        session.commit()
    except Exception as error:  # a bug must not leave the job running forever
        session.rollback()
        log.exception("extract %s failed unexpectedly: %s", job_id, type(error).__name__)
        services.fail_extract(session, extract_id=job_id, now=utcnow(),
                              message="the extract failed because of an internal error")
        session.commit()


def start_inline(app: Flask, extract_id: int) -> threading.Thread:
    """Build one extract in a background thread of this process (embedded default)."""

    def work() -> None:
        with app.app_context():
            run_next(app, worker=worker_name("inline"), extract_id=extract_id)

    thread = threading.Thread(target=work, name=f"extract-{extract_id}", daemon=True)
    thread.start()
    return thread
