"""Fixtures of the delivery tests: a published admissions dataset, a company and its permit."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.access.models import AccessRequest, Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.catalog.models import Dataset
from marketplace.db import utcnow
from marketplace.delivery import jobs, synthetic
from marketplace.delivery.models import Extract
from marketplace.identity import services as identity_services
from marketplace.identity.models import Organisation, User
from marketplace.identity.principal import Principal

PERMITTED = ["cpr", "birth_date", "sex", "postcode", "admission_date", "diagnosis",
             "length_of_stay"]


def descriptor(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Indlæggelser",
        "description": "Syntetiske indlæggelser til test.",
        "keywords": ["indlæggelse"],
        "themes": ["HEAL"],
        "health_categories": ["EHR"],
        "access_rights": "NON_PUBLIC",
        "legal_basis": "EHDS art. 53",
        "consent_model": "opt_out",
        "data_use": {"permission": "GRU", "diseases": [], "modifiers": []},
        "spatial": ["1084"],
        "contact_point": {"name": "Data", "email": "data@hospital.example"},
        "k_min": 3,
        "subject_column": "cpr",
        "columns": [dict(c) for c in synthetic.ADMISSION_COLUMNS],
        **changes,
    }


def admissions_csv(rows: int = 600, persons: int = 150, seed: int = 7) -> tuple[str, pd.DataFrame]:
    frame = synthetic.admissions(rows, persons, seed=seed).drop(columns=["_subject_key"])
    for column in ("birth_date", "admission_date"):
        frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    return frame.to_csv(index=False), frame


@dataclass
class World:
    holder: Organisation
    holder_actor: Principal
    company: Organisation
    company_user: User
    company_actor: Principal
    dataset: Dataset
    data: pd.DataFrame
    make_permit: Callable[..., Permit]


@pytest.fixture
def upload(session: Session, app: Flask, keyring: Any) -> Callable[..., None]:
    def put(actor: Principal, dataset: Dataset, text: str) -> None:
        version = catalog_services.upload_version(
            session, actor=actor, dataset_id=dataset.id, stream=io.BytesIO(text.encode()),
            media_type="text/csv", keyring=keyring, data_dir=app.config["DATA_DIR"],
            max_bytes=50_000_000)
        assert version.is_valid, version.report

    return put


@pytest.fixture
def world(session: Session, make_org: Callable[..., Organisation],
          make_user: Callable[..., User], upload: Callable[..., None]) -> World:
    holder = make_org(kind="regional", slug="test-hospital")
    holder_actor = identity_services.staff_principal(make_user(holder, role="holder_admin"))
    company = make_org(kind="company", slug="test-company")
    company_user = make_user(company, role="company_member")
    company_actor = identity_services.staff_principal(company_user)
    dataset = catalog_services.create_dataset(
        session, actor=holder_actor, descriptor=Descriptor.model_validate(descriptor()))
    text, frame = admissions_csv()
    upload(holder_actor, dataset, text)
    catalog_services.publish_dataset(session, actor=holder_actor, dataset_id=dataset.id)

    def make_permit(*, columns: list[str] | None = None, cohort: dict | None = None,
                    approved_at: datetime | None = None, valid_for: timedelta = timedelta(days=90),
                    k_min: int | None = None, datasets: list[Dataset] | None = None,
                    company_org: Organisation | None = None,
                    pseudonymised: bool = False) -> Permit:
        approved = approved_at or utcnow() - timedelta(minutes=1)
        owner = company_org or company
        chosen = datasets or [dataset]
        entries = [{"dataset_id": d.id, "columns": columns or PERMITTED} for d in chosen]
        request = AccessRequest(
            company_org_id=owner.id, submitted_by="test", title="Test", description="Test",
            purpose="company_research", diseases=[], cohort=cohort or {}, duration_days=90,
            status="permitted")
        session.add(request)
        session.flush()
        permit = Permit(
            access_request_id=request.id, company_org_id=owner.id, purpose="company_research",
            datasets=entries, cohort=cohort or {}, k_min=k_min, pseudonymised=pseudonymised,
            duties=[],
            policy_version="test", approved_at=approved, valid_until=approved + valid_for)
        session.add(permit)
        session.flush()
        audit.record_audit(session, actor=None, action="permit.issued",
                                     subject_type="permit", subject_id=str(permit.id),
                                     details={"access_request_id": request.id})
        session.commit()  # requests append to the audit chain after this entry
        return permit

    return World(holder, holder_actor, company, company_user, company_actor, dataset, frame,
                 make_permit)


@pytest.fixture
def build(app: Flask, session: Session) -> Callable[[int], Extract]:
    """Run the worker on one extract, as `marketplace worker --once` would."""

    def run(extract_id: int) -> Extract:
        session.commit()
        assert jobs.run_next(app, worker="test-worker", extract_id=extract_id) == extract_id
        session.expire_all()
        return session.get(Extract, extract_id)

    return run
