"""A worker that stalls past its lease and finds its extract taken over writes nothing: the
new owner's extract is the only result (one file, one manifest, one audit entry, each person's
transparency record once)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace import audit
from marketplace.consent.models import DataUse, DataUseSubject
from marketplace.db import utcnow
from marketplace.delivery import extract_jobs, jobs, output, services
from marketplace.delivery.models import Extract


def _take_over(app, session, extract_id: int) -> Callable[[], None]:
    """What happens while the first worker stalls: its lease runs out and a second worker
    claims the extract and builds it to the end."""
    done: list[int] = []

    def take_over() -> None:
        if done:
            return
        done.append(extract_id)
        session.execute(sa.update(Extract).where(Extract.id == extract_id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
        assert jobs.run_next(app, worker="new-owner", extract_id=extract_id) == extract_id

    return take_over


@pytest.mark.parametrize("when", ["at a progress report", "after writing its file"])
def test_a_worker_whose_extract_was_taken_over_writes_nothing(
        app, session, world, keyring, data_dir, monkeypatch, when: str) -> None:
    permit = world.make_permit()
    extract = services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                       dataset_id=None, now=utcnow())
    session.commit()
    take_over = _take_over(app, session, extract.id)
    reported: list[float] = []

    def progress(_job: int, fraction: float) -> None:
        reported.append(fraction)
        if when == "at a progress report":
            take_over()

    if when == "after writing its file":  # between two beats, just before its commit
        write = keyring.write_encrypted

        def write_then_stall(*args: Any, **kwargs: Any) -> str:
            digest = write(*args, **kwargs)
            take_over()
            return digest

        monkeypatch.setattr(keyring, "write_encrypted", write_then_stall)

    assert jobs.run_next(app, worker="stalled", extract_id=extract.id,
                         on_progress=progress) == extract.id

    session.expire_all()
    built = session.get(Extract, extract.id)
    assert built.status == "succeeded", built.error
    assert built.attempts == 2 and built.lease_owner is None
    assert 1.0 not in reported  # the stalled worker never reported its extract done
    # One file, the new owner's: it matches the signed manifest and downloads.
    assert [p.name for p in (data_dir / "extracts").iterdir()] == [f"{extract.id}.parquet.enc"]
    assert output.verify_manifest(built.manifest, public_key_b64=keyring.public_key_b64)
    download = services.download_extract(session, actor=world.company_actor,
                                         extract_id=extract.id, fmt="parquet", keyring=keyring,
                                         data_dir=data_dir, now=utcnow())
    assert b"".join(download.body)
    actions = [e.action for e in audit.audit_entries(session)
               if e.subject_type == "extract" and e.subject_id == str(extract.id)]
    assert actions.count("extract.succeeded") == 1 and "extract.failed" not in actions
    recorded = session.scalar(sa.select(sa.func.count()).select_from(DataUseSubject)
                              .join(DataUse, DataUse.id == DataUseSubject.use_id)
                              .where(DataUse.extract_id == extract.id))
    assert recorded == built.report["persons_out"]
    assert session.scalar(sa.select(DataUse.persons).where(
        DataUse.extract_id == extract.id)) == recorded


def test_a_worker_whose_failing_extract_was_taken_over_records_no_failure(
        app, session, world, monkeypatch) -> None:
    permit = world.make_permit()
    extract = services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                       dataset_id=None, now=utcnow())
    session.commit()
    take_over = _take_over(app, session, extract.id)
    calls: list[int] = []
    real_build = extract_jobs._build

    def stall_then_fail(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the stalled worker's run breaks after the takeover
            take_over()
            raise RuntimeError("the stalled worker's run broke")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(extract_jobs, "_build", stall_then_fail)
    jobs.run_next(app, worker="stalled", extract_id=extract.id)

    session.expire_all()
    built = session.get(Extract, extract.id)
    assert (built.status, built.error, built.attempts) == ("succeeded", None, 2)
    actions = [e.action for e in audit.audit_entries(session)
               if e.subject_type == "extract" and e.subject_id == str(extract.id)]
    assert actions.count("extract.succeeded") == 1 and "extract.failed" not in actions
