"""Jobs end to end: a company submits a script, the worker runs it in the real sandbox against
the permit's prepared data, and the outputs wait, checked and encrypted, for output checkers."""
from __future__ import annotations

import io
import os
import subprocess
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from marketplace import audit, leftovers
from marketplace.db import utcnow
from marketplace.workspace import jobs, sandbox, services
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput, output_context, output_path

SUMMARY = """
import pandas as pd, glob
frames = {p: pd.read_parquet(p) for p in glob.glob('/data/*.parquet')}
for path, frame in frames.items():
    print(path, len(frame), sorted(frame.columns))
    counts = frame.groupby('sex', observed=True).size().reset_index(name='n')
    counts.to_csv('/output/by_sex.csv', index=False)
    frame.head(50).to_csv('/output/first_rows.csv', index=False)
print('done')
"""


def submit(client, headers, permit_id: int, script: str, name: str = "Analyse") -> int:
    response = client.post(f"/api/v1/permits/{permit_id}/jobs", json={"name": name,
                                                                     "script": script},
                           headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["status"] == "queued"
    return response.get_json()["id"]


def test_a_script_runs_on_pseudonymised_shuffled_data_and_its_outputs_wait_for_review(
        client, session, world, api_headers, run_job, keyring, data_dir) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    job_id = submit(client, headers, permit.id, SUMMARY)

    job = run_job(job_id)

    assert job.status == "succeeded", (job.error, job.log)
    body = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    assert body["status"] == "succeeded" and body["permit_id"] == permit.id
    assert "pseudonym" in body["log"] and "'cpr'" not in body["log"] and "'name'" not in body["log"]
    outputs = {o["name"]: o for o in body["outputs"]}
    assert set(outputs) == {"by_sex.csv", "first_rows.csv"}
    for output in outputs.values():
        assert output["status"] == "pending_review"
        assert {c["rule"] for c in output["checks"]} >= {"file_type", "cpr"}
        assert all(c["outcome"] in ("pass", "warn", "fail") for c in output["checks"])
    # Kept encrypted, readable with the output's own context only.
    stored = session.get(WorkspaceOutput, outputs["first_rows.csv"]["id"])
    path = output_path(stored.id, data_dir=data_dir)
    assert b"pseudonym" not in path.read_bytes()
    rows = pd.read_csv(io.BytesIO(keyring.read_encrypted_bytes(
        path, context=output_context(stored.id))))
    assert "pseudonym" in rows and "cpr" not in rows and "name" not in rows
    assert rows["pseudonym"].str.fullmatch(r"[a-p]{24}").all()
    # Rows are not in the upload order (grouped per person there).
    assert rows["pseudonym"].nunique() > 25  # in upload order, 50 rows hold about 13 persons
    assert stored.holder_org_ids == [world.holder.id]
    assert stored.review_due_at > utcnow() + timedelta(days=4)
    actions = [e.action for e in audit.audit_entries(session)] if hasattr(
        audit, "audit_entries") else []
    if actions:
        assert "workspace.job_submitted" in actions and "workspace.output_recorded" in actions


def test_the_order_is_keyed_per_permit(client, world, api_headers, run_job, session) -> None:
    script = (f"import pandas as pd; f = pd.read_parquet('/data/{world.dataset.id}.parquet'); "
              "print(','.join(f['length_of_stay'].astype(str).head(40)))")
    headers = api_headers(world.company, "workspace:run")
    logs = []
    for _ in range(2):
        permit = world.make_permit(pseudonymised=True)
        logs.append(run_job(submit(client, headers, permit.id, script)).log.strip())
    assert logs[0] and logs[1] and logs[0] != logs[1]


def test_a_failing_script_fails_the_job_with_its_log(client, world, api_headers, run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    job = run_job(submit(client, headers, permit.id, "print('before')\nraise SystemExit(3)"))
    assert job.status == "failed" and "afslutningskoden 3" in job.error
    assert "before" in job.log and job.outputs == []


def test_cancel_a_queued_job_and_not_a_finished_one(client, session, world, api_headers,
                                                    run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    job_id = submit(client, headers, permit.id, "print(1)")
    response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    session.commit()
    assert jobs.run_next(app=client.application, worker="w", job_id=job_id) is None
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"


def test_a_job_cancelled_before_a_worker_claims_it_never_runs(app, session, world) -> None:
    permit = world.make_permit(pseudonymised=True)
    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="Lang", script="import time\ntime.sleep(60)", now=utcnow())
    job.cancel_requested = True
    session.commit()
    assert services.claim_next_job(session, worker="w", now=utcnow(), job_id=job.id) is None
    session.expire_all()
    assert session.get(WorkspaceJob, job.id).status == "cancelled"


def _dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_killed_workers_job_is_taken_over_without_what_its_run_left(
        app, session, world, run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="Igen", script="open('/output/n.txt','w').write('42')",
                              now=utcnow())
    # A worker claimed it, then died: the lease ran out, and its run's folder is still there.
    services.claim_next_job(session, worker="dead", now=utcnow() - timedelta(hours=1),
                            job_id=job.id)
    session.commit()
    dead_run = jobs.work_root(app) / f"job-{job.id}-1"
    for name, body in (("data/left.parquet", b"prepared data"), ("output/half.csv", b"n\n"),
                       ("script.py", b"print(1)")):
        (dead_run / name).parent.mkdir(parents=True, exist_ok=True)
        (dead_run / name).write_bytes(body)

    done = run_job(job.id)  # no worker start in between: the run itself clears the way

    assert done.status == "succeeded" and done.attempts == 2
    assert [o.name for o in done.outputs] == ["n.txt"]
    assert not dead_run.exists()
    assert list(jobs.work_root(app).iterdir()) == []


def test_a_starting_worker_removes_what_killed_jobs_left(app, session, world, data_dir) -> None:
    root = jobs.work_root(app)
    dead_run, live_run = root / "job-41-1", root / "job-42-1"
    for folder in (dead_run, live_run):
        (folder / "output").mkdir(parents=True)
        (folder / "output" / "half.csv").write_bytes(b"n\n")
    outputs = output_path(0, data_dir=data_dir).parent
    outputs.mkdir(parents=True)
    # An output a killed worker was encrypting, and one a live worker of this process is.
    dead_part = outputs / f".7.enc.{_dead_pid()}.0a1b2c3d.part"
    live_part = outputs / f".8.enc.{os.getpid()}.0a1b2c3d.part"
    for part in (dead_part, live_part):
        part.write_bytes(b"encrypted")
    live = leftovers.hold_folder(live_run)  # a job running in another worker
    groups = sandbox.JobCgroups.create(f"marketplace-job-41-1-{_dead_pid()}",
                                       sandbox.Limits()).folders  # where the host allows it
    try:
        from marketplace.cli import cli

        result = app.test_cli_runner().invoke(cli, ["worker", "--once"])
        assert result.exit_code == 0, result.output
        assert not dead_run.exists() and not dead_part.exists()
        assert [g for g in groups if g.exists()] == []
        assert (live_run / "output" / "half.csv").exists() and live_part.exists()
    finally:
        leftovers.release_folder(live_run, live)
    assert list(root.iterdir()) == []


def test_the_worker_command_runs_workspace_jobs(app, session, world) -> None:
    permit = world.make_permit(pseudonymised=True)
    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="CLI", script="print('hej')", now=utcnow())
    session.commit()
    from marketplace.cli import cli

    result = app.test_cli_runner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(WorkspaceJob, job.id).status == "succeeded"


def test_no_job_folder_is_left_behind(app, client, world, api_headers, run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    run_job(submit(client, headers, permit.id, "print(1)"))
    # No folder, no data, no lock.
    assert list(jobs.work_root(app).iterdir()) == []


def test_jobs_are_listed_in_the_workspace(client, world, api_headers, session) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    submit(client, headers, permit.id, "print(1)", name="Første")
    body = client.get(f"/api/v1/permits/{permit.id}/workspace", headers=headers).get_json()
    assert [j["name"] for j in body["jobs"]] == ["Første"]
    assert session.scalar(sa.select(sa.func.count()).select_from(WorkspaceJob)) == 1


ACRO_SCRIPT = """
import glob
import pandas as pd
from acro import ACRO
[path] = glob.glob('/data/*.parquet')
frame = pd.read_parquet(path)
acro = ACRO(suppress=False)
acro.crosstab(frame['sex'], frame['diagnosis'])
acro.add_exception('output_0', 'De små celler er aggregeret i artiklen.')
acro.finalise('/output/acro', 'json')
"""


def test_acro_results_travel_with_the_outputs(client, session, world, api_headers,
                                              run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    job = run_job(submit(client, headers, permit.id, ACRO_SCRIPT, name="ACRO"))
    assert job.status == "succeeded", (job.error, job.log)
    body = client.get(f"/api/v1/jobs/{job.id}", headers=headers).get_json()
    table = next(o for o in body["outputs"] if o["name"] == "acro/output_0_0.csv")
    assert table["acro"]["uid"] == "output_0" and table["acro"]["status"] in ("pass", "fail",
                                                                              "review")
    assert "aggregeret" in table["justification"]
    assert any(o["name"] == "acro/results.json" for o in body["outputs"])


def test_the_strictest_holder_rules_apply(client, session, world, api_headers, run_job) -> None:
    from marketplace.workspace.models import OutputPolicy

    session.add(OutputPolicy(dataset_id=world.dataset.id, cell_threshold=10,
                             checkers_required=2, allowed_types=["png", "txt"]))
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    job = run_job(submit(client, headers, permit.id,
                         "open('/output/t.csv','w').write('a\\n1\\n')\n"
                         "open('/output/n.txt','w').write('ok')"))
    checks = {o.name: {c["rule"]: c["outcome"] for c in o.checks} for o in job.outputs}
    assert checks["t.csv"]["file_type"] == "fail" and checks["n.txt"]["file_type"] == "pass"


def test_links_devices_and_deep_folders_are_refused(client, world, api_headers, run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    script = ("import os\nos.symlink('/etc/passwd', '/output/passwd')\n"
              "os.symlink('/data', '/output/data')\nos.mkfifo('/output/pipe')\n"
              "os.makedirs('/output/a/b/c')\nopen('/output/a/b/c/deep.txt','w').write('x')\n"
              "open('/output/a/b/ok.txt','w').write('x')\n")
    job = run_job(submit(client, headers, permit.id, script))
    assert job.status == "succeeded", job.log
    assert [o.name for o in job.outputs] == ["a/b/ok.txt"]
    for refused in ("passwd (a link)", "data (a link)", "pipe (not a regular file)",
                    "a/b/c (nested too deep)"):
        assert refused in job.log


def test_a_running_job_stops_when_cancelled(app, session, world) -> None:
    permit = world.make_permit(pseudonymised=True)
    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="Lang", script="import time\ntime.sleep(60)", now=utcnow())
    claimed = services.claim_next_job(session, worker="w", now=utcnow(), job_id=job.id)
    asked = []

    def cancelled() -> bool:
        asked.append(True)
        return len(asked) > 3

    started = utcnow()
    services.run_job(session, job=claimed, settings=jobs.settings_for(app, job.id),
                     now=utcnow(), should_stop=cancelled)
    assert claimed.status == "cancelled" and (utcnow() - started).total_seconds() < 30
    assert not list(jobs.work_root(app).glob(f"job-{job.id}-*"))


def test_a_failed_job_can_be_retried_and_nothing_else(client, world, api_headers,
                                                      run_job) -> None:
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    job_id = submit(client, headers, permit.id, "import sys\nsys.exit(1)")
    assert run_job(job_id).status == "failed"
    response = client.post(f"/api/v1/jobs/{job_id}/retry", headers=headers)
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    assert run_job(job_id).status == "failed"
    queued = submit(client, headers, permit.id, "print(1)")
    refused = client.post(f"/api/v1/jobs/{queued}/retry", headers=headers)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"


def test_a_missing_analysis_environment_fails_the_job_clearly(app, session, world, tmp_path,
                                                              run_job) -> None:
    app.config["ANALYSIS_PYTHON"] = str(tmp_path / "nowhere" / "bin" / "python")
    permit = world.make_permit(pseudonymised=True)
    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="x", script="print(1)", now=utcnow())
    done = run_job(job.id)
    assert done.status == "failed" and "analysemiljøet" in done.error


def test_citizens_see_that_a_job_analysed_their_records_and_what_was_released(
        client, session, world, api_headers, run_job, make_citizen, login, keyring) -> None:
    from marketplace.workspace import release

    cpr = str(world.data["cpr"].iloc[0])
    citizen, _ = make_citizen(cpr=cpr)
    outsider, _ = make_citizen(cpr="0101801234")
    permit = world.make_permit(pseudonymised=True)
    headers = api_headers(world.company, "workspace:run")
    first = run_job(submit(client, headers, permit.id, SUMMARY))
    run_job(submit(client, headers, permit.id, SUMMARY, name="Igen"))
    # Released by the holder's two checkers (the review rules have their own tests).
    output = next(o for o in first.outputs if o.name == "by_sex.csv")
    output.status, output.released_at = "released", utcnow()
    session.commit()

    login(citizen)
    uses = client.get("/api/v1/me/data-uses").get_json()
    assert len(uses) == 1  # once per permit and dataset, however many jobs ran
    (use,) = uses
    assert (use["extract_id"], use["job_id"], use["permit_id"]) == (None, first.id, permit.id)
    assert use["company"]["name"] == world.company.name
    page = client.get("/my-data-uses").get_data(as_text=True)
    assert "sikre analysemiljø" in page and "by_sex.csv" in page
    assert release.released_outputs(session, permit_ids=[permit.id])

    login(outsider)
    assert client.get("/api/v1/me/data-uses").get_json() == []
