"""Crashes leave nothing in clear and nothing half-stored: real server and worker processes are
killed (SIGKILL, as the kernel's out-of-memory killer or a lost machine would) mid-upload and
mid-job, then started again."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace import audit, create_app
from marketplace.access.models import AccessRequest, Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.catalog.models import DataVersion
from marketplace.consent.models import DataUse, DataUseSubject
from marketplace.db import session_scope, utcnow
from marketplace.delivery import services as delivery_services
from marketplace.delivery.models import Extract
from marketplace.identity import services as identity
from marketplace.identity.principal import Principal
from marketplace.workspace import jobs as workspace_jobs
from marketplace.workspace import services as workspace_services
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput
from marketplace.workspace.sandbox import CGROUP_ROOT
from tests.conftest import dispose
from tests.delivery.conftest import PERMITTED, admissions_csv, descriptor
from tests.ops.conftest import MARKETPLACE, free_port

pytestmark = pytest.mark.slow


@dataclass
class Installation:
    env: dict[str, str]
    app: Flask
    data_dir: Path
    dataset_id: int
    client_id: str
    secret: str
    cprs: list[str]


def _app(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", env["MARKETPLACE_INSTANCE_PATH"])
    return create_app({
        "DATABASE_URL": env["MARKETPLACE_DATABASE_URL"],
        "DATA_DIR": Path(env["MARKETPLACE_DATA_DIR"]), "MASTER_KEY": env["MARKETPLACE_MASTER_KEY"],
        "SECRET_KEY": env["MARKETPLACE_SECRET_KEY"], "OIDC_ISSUER": env["MARKETPLACE_OIDC_ISSUER"],
        "EXTRACTS_INLINE": False})


@pytest.fixture
def holder(installation: dict[str, str], monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[Installation]:
    """A data holder with a described dataset and an API client that may upload to it."""
    app = _app(installation, monkeypatch)
    with session_scope(app) as session:
        org = identity.create_org(session, slug="crash-hospital", name="Crash Hospital",
                                  kind="regional", country="DK", accredited=True)
        session.flush()
        user = identity.add_user(session, sub="crash-holder", email="holder@crash.example",
                                 org=org, role="holder_admin", name="Holder")
        dataset = catalog_services.create_dataset(
            session, actor=identity.staff_principal(user),
            descriptor=Descriptor.model_validate(descriptor()))
        issued = identity.create_api_client(session, keyring=app.extensions[
            "marketplace.keyring"], org=org, scopes="catalog:write")
        session.flush()
        dataset_id, client_id = dataset.id, issued.client.client_id
    yield Installation(installation, app, Path(installation["MARKETPLACE_DATA_DIR"]),
                       dataset_id, client_id, issued.secret, [])
    dispose(app)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _clear_cprs(folder: Path, cprs: list[str]) -> list[str]:
    """The files under `folder` that hold any of these CPR numbers in clear."""
    needles = [c.encode() for c in cprs]
    return [str(p) for p in _files(folder) if any(n in p.read_bytes() for n in needles)]


class Processes:
    """Processes started by a test, each leading its own process group."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([*MARKETPLACE, *args], env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        self.started.append(process)
        return process

    def serve(self) -> str:
        port = free_port()
        process = self.start("serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                             "--threads", "2")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5):  # noqa: S310
                    return base
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    "the server did not start"
                time.sleep(0.2)

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and every process it started."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                self.kill(process)


@pytest.fixture
def processes(installation: dict[str, str]) -> Iterator[Processes]:
    started = Processes(installation)
    yield started
    started.stop_all()


def _token(base: str, holder: Installation) -> str:
    basic = base64.b64encode(f"{holder.client_id}:{holder.secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        f"{base}/oauth/token", data=b"grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return str(json.loads(response.read())["access_token"])


def test_a_server_killed_mid_upload_leaves_no_clear_data_and_nothing_half_stored(
        holder: Installation, processes: Processes) -> None:
    text, frame = admissions_csv(rows=200_000, persons=50_000, seed=11)
    body = text.encode()
    cprs = frame["cpr"].drop_duplicates().head(200).tolist()
    base = processes.serve()
    token = _token(base, holder)
    port = int(base.rsplit(":", 1)[1])
    upload = socket.create_connection(("127.0.0.1", port), timeout=30)
    upload.sendall((f"PUT /api/v1/datasets/{holder.dataset_id}/data HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: text/csv\r\nContent-Length: {len(body)}\r\n\r\n").encode())
    upload.sendall(body[: len(body) * 3 // 4])  # most of the file: the server is spooling it
    time.sleep(3)
    processes.kill(processes.started[-1])
    upload.close()

    assert _clear_cprs(holder.data_dir, cprs) == []
    assert _clear_cprs(Path(holder.env["MARKETPLACE_INSTANCE_PATH"]), cprs) == []

    base = processes.serve()  # the restart
    with session_scope(holder.app) as session:
        assert session.scalar(sa.select(sa.func.count(DataVersion.id))) == 0
    assert _files(holder.data_dir / "tmp") == []
    assert _files(holder.data_dir / "catalog") == []

    request = urllib.request.Request(  # noqa: S310 (loopback only)
        f"{base}/api/v1/datasets/{holder.dataset_id}/data", data=body, method="PUT",
        headers={"Authorization": f"Bearer {_token(base, holder)}",
                 "Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
        assert response.status == 200
        assert json.loads(response.read())["version"] == 1
    assert _clear_cprs(holder.data_dir, cprs) == []
    assert len(_files(holder.data_dir / "catalog")) == 1


def _permit(holder: Installation, *, rows: int, pseudonymised: bool = False
            ) -> tuple[Permit, Principal, list[str]]:
    """Publish the holder's dataset with `rows` rows and permit a company to use it; return
    the permit, a member of the company and CPR numbers of the data."""
    app = holder.app
    text, frame = admissions_csv(rows=rows, persons=rows // 4, seed=5)
    with session_scope(app) as session:
        holder_user = identity.get_user_by_sub(session, sub="crash-holder")
        assert holder_user is not None
        holder_actor = identity.staff_principal(holder_user)
        version = catalog_services.upload_version(
            session, actor=holder_actor, dataset_id=holder.dataset_id,
            stream=io.BytesIO(text.encode()), media_type="text/csv",
            keyring=app.extensions["marketplace.keyring"], data_dir=holder.data_dir,
            max_bytes=500_000_000)
        assert version.is_valid, version.report
        catalog_services.publish_dataset(session, actor=holder_actor,
                                         dataset_id=holder.dataset_id)
        company = identity.create_org(session, slug="crash-company", name="Crash Company",
                                      kind="company", country="DK", accredited=True)
        session.flush()
        member = identity.add_user(session, sub="crash-member", email="m@crash.example",
                                   org=company, role="company_member", name="Member")
        approved = utcnow() - timedelta(minutes=1)
        request = AccessRequest(
            company_org_id=company.id, submitted_by="test", title="Crash", description="Crash",
            purpose="company_research", diseases=[], cohort={}, duration_days=90,
            status="permitted")
        session.add(request)
        session.flush()
        permit = Permit(
            access_request_id=request.id, company_org_id=company.id,
            purpose="company_research", cohort={}, k_min=None, pseudonymised=pseudonymised,
            duties=[],
            datasets=[{"dataset_id": holder.dataset_id, "columns": PERMITTED}],
            policy_version="test", approved_at=approved, valid_until=approved + timedelta(90))
        session.add(permit)
        session.flush()
        audit.record_audit(session, actor=None, action="permit.issued", subject_type="permit",
                           subject_id=str(permit.id), details={"access_request_id": request.id})
        session.expunge_all()
        return permit, identity.staff_principal(member), frame[
            "cpr"].drop_duplicates().head(200).tolist()


def _extract_waiting(holder: Installation, *, rows: int) -> tuple[int, list[str]]:
    """Publish the holder's dataset with `rows` rows and queue an extract of it for a company."""
    permit, member, cprs = _permit(holder, rows=rows)
    with session_scope(holder.app) as session:
        extract = delivery_services.request_extract(session, actor=member, permit_id=permit.id,
                                                    dataset_id=None, now=utcnow())
        session.flush()
        return extract.id, cprs


def _extract(holder: Installation, extract_id: int) -> Extract:
    with session_scope(holder.app) as session:
        extract = session.get(Extract, extract_id)
        assert extract is not None
        session.expunge(extract)
        return extract


def test_a_worker_killed_mid_job_is_taken_over_quickly_without_duplicates_or_leftovers(
        holder: Installation, processes: Processes) -> None:
    extract_id, cprs = _extract_waiting(holder, rows=300_000)
    processes.env = {**processes.env, "MARKETPLACE_JOB_LEASE_SECONDS": "3"}
    first = processes.start("worker", "--poll-seconds", "0.2")
    deadline = time.monotonic() + 120
    while _extract(holder, extract_id).status == "queued":
        assert time.monotonic() < deadline, "the worker never took the extract"
        time.sleep(0.1)
    time.sleep(0.2)  # into the build, which takes seconds even on a quiet machine
    assert _extract(holder, extract_id).status == "running"
    processes.kill(first)
    killed = time.monotonic()

    assert _clear_cprs(holder.data_dir, cprs) == []
    with session_scope(holder.app) as session:  # nothing of the killed build was committed
        assert session.scalar(sa.select(sa.func.count(DataUse.id))) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(DataUseSubject)) == 0

    processes.start("worker", "--poll-seconds", "0.2")  # the restart
    while (extract := _extract(holder, extract_id)).status == "running":
        assert time.monotonic() - killed < 60, "the job was not finished within a minute"
        time.sleep(0.2)
    assert extract.status == "succeeded", extract.error
    assert extract.attempts == 2
    # One output file, no half-written one, and each person recorded once.
    assert [p.name for p in _files(holder.data_dir / "extracts")] == [
        f"{extract_id}.parquet.enc"]
    with session_scope(holder.app) as session:
        recorded = session.scalar(sa.select(sa.func.count()).select_from(DataUseSubject)
                                  .join(DataUse, DataUse.id == DataUseSubject.use_id)
                                  .where(DataUse.extract_id == extract_id))
    assert recorded == extract.report["persons_out"]
    assert _clear_cprs(holder.data_dir, cprs) == []


# The script writes a first output and scratch files, then works for a while before its last.
SLOW_SCRIPT = """
import time
open('/output/first.csv', 'w').write('n\\n1\\n')
open('/tmp/scratch.bin', 'wb').write(b'x' * 1000)
time.sleep(6)
open('/output/last.csv', 'w').write('n\\n2\\n')
"""


def _job(holder: Installation, job_id: int) -> WorkspaceJob:
    with session_scope(holder.app) as session:
        job = session.get(WorkspaceJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def test_a_worker_killed_mid_workspace_job_leaves_no_outputs_or_scratch_behind(
        holder: Installation, processes: Processes) -> None:
    permit, member, cprs = _permit(holder, rows=2_000, pseudonymised=True)
    with session_scope(holder.app) as session:
        job_id = workspace_services.submit_job(session, actor=member, permit_id=permit.id,
                                               name="Lang", script=SLOW_SCRIPT, now=utcnow()).id
    work = workspace_jobs.work_root(holder.app)  # the instance's, as the workers see it
    processes.env = {**processes.env, "MARKETPLACE_JOB_LEASE_SECONDS": "3"}
    first = processes.start("worker", "--poll-seconds", "0.2")
    # Killed while its script works, after it wrote its first output.
    dead_run = work / f"job-{job_id}-1"
    deadline = time.monotonic() + 120
    while not (dead_run / "output" / "first.csv").exists():
        assert time.monotonic() < deadline, "the worker never ran the script"
        job = _job(holder, job_id)
        assert job.status in ("queued", "running"), (job.error, job.log)
        time.sleep(0.1)
    processes.kill(first)
    killed = time.monotonic()
    assert (dead_run / "data").exists()  # the prepared data is still on disk

    processes.start("worker", "--poll-seconds", "0.2")  # the restart
    while (job := _job(holder, job_id)).status in ("queued", "running"):
        assert time.monotonic() - killed < 90, "the job was not finished in time"
        time.sleep(0.2)
    assert job.status == "succeeded", job.error
    assert job.attempts == 2
    # The dead run's folder is gone (prepared data, outputs, scratch) and so is the new run's.
    assert not dead_run.exists()
    assert [p for p in work.iterdir() if p.is_dir()] == []
    with session_scope(holder.app) as session:
        outputs = session.scalars(sa.select(WorkspaceOutput).where(
            WorkspaceOutput.job_id == job_id)).all()
        names = sorted(o.name for o in outputs)
        files = sorted(f"{o.id}.enc" for o in outputs)
        recorded = [e for e in audit.audit_entries(session)
                    if e.action == "workspace.job_succeeded" and e.subject_id == str(job_id)]
    assert names == ["first.csv", "last.csv"]  # each once: the new run's
    assert [p.name for p in _files(holder.data_dir / "workspace" / "outputs")] == files
    assert len(recorded) == 1
    assert _clear_cprs(holder.data_dir, cprs) == []
    # Nor are the control groups of the killed run left on the host.
    assert list(CGROUP_ROOT.glob(f"*/marketplace-{dead_run.name}-{first.pid}")) == []
