"""Fixtures of the workspace tests: the delivery world (a published admissions dataset, a
company and its permits), the real analysis environment and a job runner."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.workspace import environment, jobs
from marketplace.workspace.models import WorkspaceJob
from tests.delivery.conftest import upload, world  # noqa: F401 - fixtures shared with delivery

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def analysis_environment() -> Path:
    """The real analysis venv; built once with `make analysis-env` when it is missing."""
    if not environment.DEFAULT_PYTHON.exists():
        subprocess.run(["make", "analysis-env"], cwd=REPOSITORY, check=True,
                       timeout=1800)
    root = environment.DEFAULT_PYTHON.parent.parent
    assert (root / "pyvenv.cfg").exists()
    return root


@pytest.fixture
def app(app: Flask, analysis_environment: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Flask:
    app.config["ANALYSIS_PYTHON"] = str(analysis_environment / "bin" / "python")
    app.config["WORKSPACE_WALL_SECONDS"] = 60
    return app


@pytest.fixture
def run_job(app: Flask, session: Session) -> Callable[[int], WorkspaceJob]:
    """Run the worker on one job, as `marketplace worker --once` would."""

    def run(job_id: int) -> WorkspaceJob:
        session.commit()
        assert jobs.run_next(app, worker="test-worker", job_id=job_id) == job_id
        session.expire_all()
        job = session.get(WorkspaceJob, job_id)
        assert job is not None
        return job

    return run
