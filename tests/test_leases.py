"""Leases of durable jobs: a live worker keeps its job, a dead worker's job is taken over as
soon as its short lease runs out."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from marketplace import leases, schema
from marketplace.db import create_engine_for, utcnow
from marketplace.workspace.models import WorkspaceJob

LEASE = timedelta(seconds=1.5)


@pytest.fixture
def sessions(tmp_path: Path):
    """Sessions of a migrated database of their own: the heartbeat writes from a thread, as in
    a worker process, so the job must be committed for real."""
    url = f"sqlite:///{tmp_path / 'leases.db'}"
    schema.upgrade(url)
    engine = create_engine_for(url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def _queue_job(sessions: sessionmaker[Session]) -> int:
    # A plain connection (SQLite leaves foreign keys unchecked): a job without its permit will do.
    engine = sa.create_engine(str(sessions.kw["bind"].url))
    with Session(engine) as session:
        job = WorkspaceJob(permit_id=1, company_org_id=1, name="x", script="print(1)",
                           script_sha256="0" * 64, submitted_by="test", status="queued",
                           progress=0.0, attempts=0)
        session.add(job)
        session.commit()
        job_id = job.id
    engine.dispose()
    return job_id


def _claim(sessions: sessionmaker[Session], worker: str) -> WorkspaceJob | None:
    with sessions() as session:
        job = leases.claim_next(session, WorkspaceJob, worker=worker, now=utcnow(), lease=LEASE,
                                give_up=lambda _job: None)
        session.commit()
        return job


def test_a_heartbeat_keeps_a_live_workers_job_and_a_dead_workers_job_is_taken_over(
        sessions: sessionmaker[Session]) -> None:
    job_id = _queue_job(sessions)
    claimed = _claim(sessions, "worker-a")
    assert claimed is not None and claimed.id == job_id
    with leases.Heartbeat(sessions, WorkspaceJob, job_id=job_id, worker="worker-a",
                          lease=LEASE) as heartbeat:
        time.sleep(LEASE.total_seconds() * 2.5)  # a long step that reports no progress
        assert _claim(sessions, "worker-b") is None  # the lease was kept alive
    assert not heartbeat.lost
    # Worker A is gone (no more beats): its job is taken over once the short lease runs out.
    deadline = time.monotonic() + LEASE.total_seconds() * 3
    while (taken := _claim(sessions, "worker-b")) is None:
        assert time.monotonic() < deadline, "the job was not taken over"
        time.sleep(0.1)
    assert (taken.id, taken.lease_owner, taken.attempts) == (job_id, "worker-b", 2)
    # A's late beat finds that it lost the job and says so.
    assert leases.Heartbeat(sessions, WorkspaceJob, job_id=job_id, worker="worker-a",
                            lease=LEASE).beat() is False


def test_the_lease_length_is_configurable_and_short_by_default() -> None:
    assert leases.lease_from({}) <= timedelta(seconds=30)
    assert leases.lease_from({"JOB_LEASE_SECONDS": 3}) == timedelta(seconds=3)


def test_a_worker_that_lost_its_job_can_neither_report_progress_nor_record_a_result(
        sessions: sessionmaker[Session]) -> None:
    job_id = _queue_job(sessions)
    assert _claim(sessions, "worker-a") is not None
    with leases.Heartbeat(sessions, WorkspaceJob, job_id=job_id, worker="worker-a",
                          lease=LEASE) as heartbeat:
        # Worker A stalled past its lease, and worker B took the job over.
        with sessions() as session:
            session.execute(sa.update(WorkspaceJob).values(
                lease_expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
        assert _claim(sessions, "worker-b") is not None
        deadline = time.monotonic() + LEASE.total_seconds() * 3
        while not heartbeat.lost:
            assert time.monotonic() < deadline, "the heartbeat did not notice"
            time.sleep(0.05)
        with pytest.raises(leases.LeaseLost):
            heartbeat.check()
    with sessions() as session:
        for step in (leases.report_progress, leases.hold):
            extra = {"progress": 0.5} if step is leases.report_progress else {}
            with pytest.raises(leases.LeaseLost):
                step(session, WorkspaceJob, job_id=job_id, worker="worker-a", now=utcnow(),
                     lease=LEASE, **extra)
        leases.hold(session, WorkspaceJob, job_id=job_id, worker="worker-b", now=utcnow(),
                    lease=LEASE)
        session.commit()
        job = session.get(WorkspaceJob, job_id)
        assert job is not None and (job.lease_owner, job.progress) == ("worker-b", 0.0)
