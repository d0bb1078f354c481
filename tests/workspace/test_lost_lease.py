"""A worker that stalls past its lease and finds its workspace job taken over records nothing:
the new owner's outputs are the only ones, and no folder of either run is left."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace import audit
from marketplace.consent.models import DataUse, DataUseSubject
from marketplace.db import utcnow
from marketplace.workspace import jobs, sandbox, services
from marketplace.workspace.models import WorkspaceJob, output_path

SCRIPT = "open('/output/n.txt', 'w').write('42')\n"


def test_a_worker_whose_job_was_taken_over_records_nothing(app, session, world, data_dir,
                                                           monkeypatch) -> None:
    permit = world.make_permit(pseudonymised=True)
    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="Overtaget", script=SCRIPT, now=utcnow())
    session.commit()
    run_script = sandbox.run_script
    runs: list[str] = []

    def run_then_stall(*args: Any, **kwargs: Any) -> sandbox.SandboxRun:
        result = run_script(*args, **kwargs)
        runs.append(kwargs["work_dir"].name)
        if len(runs) == 1:  # the first worker stalls here: its lease runs out, another takes over
            session.execute(sa.update(WorkspaceJob).where(WorkspaceJob.id == job.id)
                            .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
            assert jobs.run_next(app, worker="new-owner", job_id=job.id) == job.id
        return result

    monkeypatch.setattr(sandbox, "run_script", run_then_stall)

    assert jobs.run_next(app, worker="stalled", job_id=job.id) == job.id

    session.expire_all()
    done = session.get(WorkspaceJob, job.id)
    assert runs == [f"job-{job.id}-1", f"job-{job.id}-2"]  # each run in a folder of its own
    assert (done.status, done.attempts, done.lease_owner) == ("succeeded", 2, None)
    assert [o.name for o in done.outputs] == ["n.txt"]
    stored = sorted(p.name for p in output_path(0, data_dir=data_dir).parent.iterdir())
    assert stored == [f"{done.outputs[0].id}.enc"]
    actions = [e.action for e in audit.audit_entries(session)
               if e.subject_type == "workspace_job" and e.subject_id == str(job.id)]
    assert actions.count("workspace.job_succeeded") == 1
    assert "workspace.job_failed" not in actions
    recorded = [e for e in audit.audit_entries(session)
                if e.action == "workspace.output_recorded" and e.details["job_id"] == job.id]
    assert len(recorded) == 1
    uses = session.scalars(sa.select(DataUse).where(DataUse.workspace_job_id == job.id)).all()
    assert sorted(u.dataset_id for u in uses) == sorted(permit.dataset_ids)
    recorded = session.scalar(sa.select(sa.func.count()).select_from(DataUseSubject)
                              .where(DataUseSubject.use_id.in_([u.id for u in uses])))
    assert recorded == sum(u.persons for u in uses) > 0
    # Neither run left its folder (nor its lock) behind.
    assert list(jobs.work_root(app).iterdir()) == []
