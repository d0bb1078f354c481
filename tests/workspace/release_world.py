"""Fixtures of the output release tests: a holder with two output checkers, a rival holder, a
company with a permit, a finished job, and outputs kept as real encrypted files.

Test modules import the fixtures they use from here.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.access.models import AccessRequest, Permit
from marketplace.catalog.models import Dataset
from marketplace.db import utcnow
from marketplace.identity import services as identity_services
from marketplace.identity.models import Organisation, User
from marketplace.identity.principal import Principal
from marketplace.security import Keyring
from marketplace.workspace import checks
from marketplace.workspace.models import (
    WorkspaceJob,
    WorkspaceOutput,
    output_context,
    output_path,
)

SCRIPT = ("import pandas as pd\n"
          "data = pd.read_parquet('/data/1.parquet')\n"
          "data.groupby('sex').size().rename('n').to_csv('/output/table.csv')\n")
SAFE_TABLE = b"sex,n\nfemale,40\nmale,35\n"
SMALL_CELLS = b"sex,n\nfemale,40\nmale,3\n"


@dataclass
class ReleaseWorld:
    holder: Organisation
    rival_holder: Organisation
    company: Organisation
    rival_company: Organisation
    checker_a: User
    checker_b: User
    rival_checker: User
    holder_admin: User
    company_user: User
    rival_company_user: User
    dataset: Dataset
    permit: Permit
    job: WorkspaceJob
    make_output: Callable[..., WorkspaceOutput]

    def principal(self, user: User) -> Principal:
        return identity_services.staff_principal(user)


def _dataset(session: Session, holder: Organisation, title: str) -> Dataset:
    dataset = Dataset(
        publisher_org_id=holder.id, status="published", title=title, description="Testdata",
        keywords=[], themes=[], health_categories=[], access_rights="NON_PUBLIC",
        legal_basis="EHDS", consent_model="opt_out",
        data_use={"permission": "GRU", "diseases": [], "modifiers": []}, spatial=[], k_min=5,
        subject_column="cpr",
        columns=[{"name": "cpr", "type": "string", "role": "direct_identifier",
                  "identifier_kind": "cpr", "shareable": True},
                 {"name": "sex", "type": "category", "role": "quasi_identifier",
                  "shareable": True}],
        search_text=title.lower(), published_at=utcnow())
    session.add(dataset)
    session.flush()
    return dataset


def make_permit(session: Session, company: Organisation, datasets: list[Dataset]) -> Permit:
    approved = utcnow() - timedelta(days=1)
    request = AccessRequest(
        company_org_id=company.id, submitted_by="test", title="KOL-studie", description="Test",
        purpose="company_research", diseases=[], cohort={}, duration_days=90, status="permitted",
        pseudonymised=True)
    session.add(request)
    session.flush()
    permit = Permit(
        access_request_id=request.id, company_org_id=company.id, purpose="company_research",
        datasets=[{"dataset_id": d.id, "columns": ["cpr", "sex"]} for d in datasets],
        cohort={}, k_min=5, pseudonymised=True, duties=[], policy_version="test",
        approved_at=approved, valid_until=approved + timedelta(days=90))
    session.add(permit)
    session.flush()
    audit.record_audit(session, actor=None, action="permit.issued", subject_type="permit",
                       subject_id=str(permit.id), details={"access_request_id": request.id})
    return permit


def make_job(session: Session, permit: Permit, *, script: str = SCRIPT) -> WorkspaceJob:
    job = WorkspaceJob(
        permit_id=permit.id, company_org_id=permit.company_org_id, name="Køn i kohorten",
        script=script, script_sha256=hashlib.sha256(script.encode()).hexdigest(),
        submitted_by="staff:company:1", status="succeeded", progress=1.0, log="",
        started_at=utcnow(), finished_at=utcnow())
    session.add(job)
    session.flush()
    return job


@pytest.fixture
def release_world(session: Session, make_org: Callable[..., Organisation],
                  make_user: Callable[..., User], keyring: Keyring, data_dir: Path,
                  tmp_path: Path) -> ReleaseWorld:
    holder = make_org("regional", slug="herlev-output")
    rival_holder = make_org("municipal", slug="albertslund-output")
    company = make_org("company", slug="pulmo-output")
    rival_company = make_org("company", slug="rival-output")
    dataset = _dataset(session, holder, "Herlev KOL")
    permit = make_permit(session, company, [dataset])
    job = make_job(session, permit)
    counter = iter(range(1, 1000))

    def make_output(content: bytes = SAFE_TABLE, *, name: str = "table.csv",
                    job_row: WorkspaceJob | None = None, justification: str = "",
                    acro: dict | None = None, created_days_ago: int = 0) -> WorkspaceOutput:
        """Check, encrypt and record one output file as the job runner does."""
        owner = job_row or job
        source = tmp_path / f"output-{next(counter)}" / name
        source.parent.mkdir(parents=True)
        source.write_bytes(content)
        found = checks.check_output(source, name=name,
                                    rules=checks.OutputRules(acro_results=acro))
        created = utcnow() - timedelta(days=created_days_ago)
        output = WorkspaceOutput(
            job=owner, permit_id=owner.permit_id, name=name, byte_size=len(content),
            sha256=hashlib.sha256(content).hexdigest(), media_type="text/csv",
            status="pending_review", checks=[c.to_json() for c in found],
            justification=justification, acro=acro, holder_org_ids=[holder.id],
            created_at=created)
        session.add(output)
        session.flush()
        keyring.write_encrypted(output_path(output.id, data_dir=data_dir), [content],
                                context=output_context(output.id))
        session.commit()
        return output

    world = ReleaseWorld(
        holder=holder, rival_holder=rival_holder, company=company, rival_company=rival_company,
        checker_a=make_user(holder, role="output_checker"),
        checker_b=make_user(holder, role="output_checker"),
        rival_checker=make_user(rival_holder, role="output_checker"),
        holder_admin=make_user(holder, role="holder_admin"),
        company_user=make_user(company, role="company_member"),
        rival_company_user=make_user(rival_company, role="company_member"),
        dataset=dataset, permit=permit, job=job, make_output=make_output)
    session.commit()
    return world
