"""Fixtures of the access tests: published datasets, applicants, reviewers and cohort sizes."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset
from marketplace.db import utcnow
from marketplace.identity import services as identity_services
from marketplace.identity.models import Organisation, User
from marketplace.identity.principal import Principal

ENGINE_KEY = "marketplace.access_engine"

COLUMNS = [
    {"name": "cpr", "type": "string", "role": "direct_identifier", "identifier_kind": "cpr",
     "shareable": True},
    {"name": "name", "type": "string", "role": "direct_identifier", "identifier_kind": "name",
     "shareable": False},
    {"name": "birth_date", "type": "date", "role": "quasi_identifier", "concept": "birth_date",
     "generalise": {"kind": "age_band", "width": 5}, "shareable": True},
    {"name": "sex", "type": "category", "role": "quasi_identifier", "concept": "sex",
     "shareable": True},
    {"name": "diagnosis", "type": "string", "role": "sensitive", "concept": "diagnosis",
     "shareable": True},
    {"name": "notes", "type": "string", "role": "attribute", "shareable": False},
]


@pytest.fixture
def make_dataset(session: Session) -> Callable[..., Dataset]:
    def make(holder: Organisation, *, title: str = "Astma-forløb", status: str = "published",
             access_rights: str = "RESTRICTED", data_use: dict | None = None, k_min: int = 5,
             columns: list[dict] | None = None) -> Dataset:
        dataset = Dataset(
            publisher_org_id=holder.id, status=status, title=title, description="Testdata",
            keywords=[], themes=[], health_categories=[], access_rights=access_rights,
            legal_basis="EHDS", consent_model="opt_out",
            data_use=data_use or {"permission": "GRU", "diseases": [], "modifiers": []},
            spatial=[], k_min=k_min, subject_column="cpr", columns=columns or COLUMNS,
            search_text=title.lower(), published_at=utcnow() if status == "published" else None)
        session.add(dataset)
        session.flush()
        return dataset

    return make


class CohortSizes(dict):
    """Cohort sizes the delivery estimate returns, per dataset id (100 when not set)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def estimate(self, session: Session, *, datasets: Sequence[Dataset], cohort: dict,
                 purpose: str, as_of: Any) -> dict[int, int | None]:
        for dataset in datasets:
            self.calls.append({"dataset_id": dataset.id, "cohort": cohort, "purpose": purpose})
        return {dataset.id: self.get(dataset.id, 100) for dataset in datasets}


@pytest.fixture
def cohort_sizes(app: Flask) -> CohortSizes:
    # The delivery domain owns the estimate; these tests give the engine fixed answers.
    sizes = CohortSizes()
    engine = app.extensions[ENGINE_KEY]
    app.extensions[ENGINE_KEY] = dataclasses.replace(engine, estimate_cohort=sizes.estimate)
    return sizes


@dataclass
class World:
    company: Organisation
    rival: Organisation
    herlev: Organisation
    albertslund: Organisation
    company_user: User
    rival_user: User
    herlev_reviewer: User
    albertslund_admin: User
    operator_user: User
    herlev_data: Dataset
    albertslund_data: Dataset
    sensitive_data: Dataset

    def principal(self, user: User) -> Principal:
        return identity_services.staff_principal(user)


@pytest.fixture
def world(make_org, make_user, make_dataset, cohort_sizes) -> World:
    company = make_org("company", slug="pulmo-test")
    rival = make_org("company", slug="rival-test")
    herlev = make_org("regional", slug="herlev-test")
    albertslund = make_org("municipal", slug="albertslund-test")
    operator = make_org("operator", slug="operator-test")
    return World(
        company=company, rival=rival, herlev=herlev, albertslund=albertslund,
        company_user=make_user(company, role="company_member"),
        rival_user=make_user(rival, role="company_member"),
        herlev_reviewer=make_user(herlev, role="reviewer"),
        albertslund_admin=make_user(albertslund, role="holder_admin"),
        operator_user=make_user(operator, role="operator"),
        herlev_data=make_dataset(herlev, title="Herlev KOL"),
        albertslund_data=make_dataset(albertslund, title="Albertslund genoptræning"),
        sensitive_data=make_dataset(herlev, title="Herlev genetik", access_rights="NON_PUBLIC"),
    )


def application(*datasets: Dataset, **overrides: Any) -> dict[str, Any]:
    """A well-formed application body for the given datasets."""
    body = {
        "title": "KOL-forløb og hjemmemonitorering",
        "description": "Vi undersøger, om hjemmemonitorering forebygger indlæggelser.",
        "purpose": "public_research",
        "datasets": [{"id": d.id, "columns": ["birth_date", "sex", "diagnosis"]}
                     for d in datasets],
        "diseases": [], "cohort": {"age": [40, 90]}, "duration_days": 365,
        "safeguards": "Data behandles i en sikker analyseplatform.",
        "processors": [{"name": "Dr. Hansen", "role": "forsker"}],
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_course(session: Session) -> Callable[..., Any]:
    """A test course of `company` in a fresh test environment (the testbeds domain's models)."""
    from marketplace.testbeds.models import SolutionProfile, TestCourse, TestEnvironment

    def make(company: Organisation, *, status: str = "agreed") -> TestCourse:
        environment = TestEnvironment(
            slug=f"env-{company.slug}-{status}", name_da="Genoptræningsmiljø",
            name_en="Rehabilitation environment", description_da="Test", description_en="Test",
            themes=[], target_groups=[], resources=[], facilities=[], dataset_ids=[],
            trl_min=4, trl_max=9, capacity_per_year=3, contact_name="Kontakt",
            contact_email="kontakt@host.example")
        solution = SolutionProfile(company_org_id=company.id, name="StrideAssist")
        session.add_all([environment, solution])
        session.flush()
        course = TestCourse(environment_id=environment.id, company_org_id=company.id,
                            solution_profile_id=solution.id, title="Exoskelet i hjemmet",
                            status=status)
        session.add(course)
        session.flush()
        return course

    return make
