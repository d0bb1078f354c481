"""Leases of durable jobs (extracts, workspace jobs): claiming, renewing and the heartbeat.

A worker leases a job for a short time and renews the lease from a heartbeat thread while the
job runs, so a worker that dies (killed, machine lost) holds its job only until the lease runs
out; the next worker that polls takes it over. The lease length is JOB_LEASE_SECONDS.

A worker that stalls past its lease (paused, starved) may find its job taken over when it
wakes: it must then stop and write nothing, because the new owner does the job. Its progress
reports and the transaction that records its result therefore re-check the lease with a
conditional UPDATE (`report_progress`, `hold`) and raise LeaseLost when the job is no longer
its own.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from marketplace.db import utcnow

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 3


class LeaseLost(Exception):
    """This worker no longer holds the job: another worker took it over after the lease ran
    out. The job's run must end without writing anything (the new owner does the job)."""

    def __init__(self, model: type[Any], job_id: int, worker: str) -> None:
        super().__init__(f"{model.__name__} {job_id} is no longer leased by {worker}")
        self.job_id = job_id


class LeasedJob(Protocol):
    id: Any
    status: Any
    attempts: Any
    progress: Any
    lease_owner: Any
    lease_expires_at: Any
    started_at: Any


Job = TypeVar("Job", bound=LeasedJob)


def lease_from(config: Any) -> timedelta:
    """The lease length configured as JOB_LEASE_SECONDS (default 30 s)."""
    seconds = float(config.get("JOB_LEASE_SECONDS") or DEFAULT_LEASE.total_seconds())
    return timedelta(seconds=max(seconds, 1.0))


def claim_next(session: Session, model: type[Job], *, worker: str, now: datetime,
               lease: timedelta, job_id: int | None = None,
               give_up: Callable[[Job], object], settle: Callable[[Job], bool] | None = None
               ) -> Job | None:
    """Lease the oldest queued job of `model`, or one whose worker's lease ran out.

    A job its workers stopped MAX_ATTEMPTS times is handed to `give_up` (which fails it) and
    the next one is tried; `settle` may close a job without running it (return True).
    """
    table: Any = model
    runnable = sa.or_(table.status == "queued",
                      sa.and_(table.status == "running", table.lease_expires_at < now))
    query = sa.select(model).where(runnable).order_by(table.created_at, table.id).limit(1)
    if job_id is not None:
        query = query.where(table.id == job_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    while (job := session.scalar(query)) is not None:
        if settle is not None and settle(job):
            session.flush()
            continue
        if job.attempts < MAX_ATTEMPTS:
            job.status = "running"
            job.attempts += 1
            job.progress = 0.0
            job.lease_owner = worker
            job.lease_expires_at = now + lease
            job.started_at = now
            session.flush()
            return job
        give_up(job)
        session.flush()
    return None


def _extend(session: Session, model: type[LeasedJob], *, job_id: int, worker: str,
            values: dict[str, Any]) -> None:
    table: Any = model
    result = session.execute(
        sa.update(table)
        .where(table.id == job_id, table.lease_owner == worker, table.status == "running")
        .values(**values)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 1) == 0:
        raise LeaseLost(model, job_id, worker)


def report_progress(session: Session, model: type[LeasedJob], *, job_id: int, worker: str,
                    progress: float, now: datetime, lease: timedelta) -> None:
    """Record progress and keep the lease, if this worker still holds the job (the caller
    commits); raise LeaseLost when another worker took it over."""
    progress = float(min(max(progress, 0.0), 1.0))
    _extend(session, model, job_id=job_id, worker=worker,
            values={"progress": progress, "lease_expires_at": now + lease})


def hold(session: Session, model: type[LeasedJob], *, job_id: int, worker: str,
         now: datetime, lease: timedelta) -> None:
    """Keep the lease inside the transaction that records the job's result, before anything
    of the result is written; raise LeaseLost when another worker took the job over.

    Until that transaction ends, no other worker can take the job over: PostgreSQL keeps the
    updated row locked (a claim skips locked rows), SQLite the whole database. So a worker that
    finishes late can never write over the new owner's result, even between two heartbeats.
    """
    _extend(session, model, job_id=job_id, worker=worker,
            values={"lease_expires_at": now + lease})


class Heartbeat:
    """Renews a job's lease every third of its length from a thread of its own, whatever the
    job is doing (a long anonymity search, a script in the sandbox), while the job runs.

    It writes through its own sessions; with a session factory bound to one shared connection
    (an embedding that runs everything in one transaction) there is nothing it may use from
    another thread, and the job's own progress reports keep the lease instead.
    """

    def __init__(self, sessions: sessionmaker[Session], model: type[LeasedJob], *, job_id: int,
                 worker: str, lease: timedelta) -> None:
        self.sessions = sessions
        self.model = model
        self.job_id = job_id
        self.worker = worker
        self.lease = lease
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if isinstance(self.sessions.kw.get("bind"), sa.Engine):
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"lease-{self.model.__name__}-{self.job_id}")
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def check(self) -> None:
        """Raise LeaseLost when a beat found the job taken over by another worker."""
        if self.lost:
            raise LeaseLost(self.model, self.job_id, self.worker)

    def _run(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                self.beat()
            except SQLAlchemyError as error:  # the next beat tries again
                log.warning("could not renew the lease of %s %s: %s", self.model.__name__,
                            self.job_id, type(error).__name__)

    def beat(self) -> bool:
        """Extend the lease now; return False (and remember it) when this worker lost it."""
        with self.sessions() as session:
            try:
                _extend(session, self.model, job_id=self.job_id, worker=self.worker,
                        values={"lease_expires_at": utcnow() + self.lease})
            except LeaseLost:
                self.lost = True
            session.commit()
        return not self.lost
