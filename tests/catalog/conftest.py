"""Fixtures of the catalog tests: a data holder, a descriptor and data that fit each other."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from marketplace.identity.models import Organisation

COLUMNS: list[dict[str, Any]] = [
    {"name": "cpr", "type": "string", "role": "direct_identifier", "identifier_kind": "cpr",
     "required": True},
    {"name": "birth_date", "type": "date", "role": "quasi_identifier", "concept": "birth_date",
     "generalise": {"kind": "date", "to": "year"}, "minimum": "1900-01-01",
     "maximum": "2026-12-31"},
    {"name": "sex", "type": "category", "role": "quasi_identifier", "code_system": "sex",
     "concept": "sex"},
    {"name": "admitted", "type": "date", "role": "quasi_identifier", "concept": "event_date",
     "minimum": "2015-01-01", "maximum": "2026-12-31"},
    {"name": "diagnosis", "type": "string", "role": "sensitive", "code_system": "icd10",
     "concept": "diagnosis"},
    {"name": "days", "type": "integer", "role": "attribute", "minimum": 0, "maximum": 365},
]

DESCRIPTOR: dict[str, Any] = {
    "title": "KOL-indlæggelser",
    "title_en": "COPD admissions",
    "description": "Indlæggelser med KOL på hospitalet.",
    "keywords": ["KOL", "lunger"],
    "themes": ["HEAL"],
    "health_categories": ["EHR"],
    "access_rights": "NON_PUBLIC",
    "legal_basis": "GDPR art. 9(2)(j)",
    "consent_model": "opt_out",
    "data_use": {"permission": "DS", "diseases": ["DJ44"], "modifiers": ["IRB"]},
    "spatial": ["1084"],
    "temporal": {"start": "2015-01-01", "end": "2026-12-31"},
    "contact_point": {"name": "Datateam", "email": "data@hospital.example"},
    "k_min": 5,
    "subject_column": "cpr",
    "columns": COLUMNS,
}

GOOD_CSV = (
    "cpr,birth_date,sex,admitted,diagnosis,days\n"
    "0703851234,1985-03-07,female,2020-05-01,DJ441,3\n"
    "010170-1235,1970-01-01,male,2021-01-02,DJ449,10\n"
    "0703851234,1985-03-07,female,2022-02-03,DI500,1\n"
)


@pytest.fixture
def descriptor() -> dict[str, Any]:
    return copy.deepcopy(DESCRIPTOR)


@pytest.fixture
def holder(make_org: Callable[..., Organisation]) -> Organisation:
    return make_org(kind="regional", slug="test-hospital")


@pytest.fixture
def holder_headers(holder: Organisation, api_headers: Callable[..., dict[str, str]]
                   ) -> dict[str, str]:
    return api_headers(holder)


@pytest.fixture
def create(client: FlaskClient, holder_headers: dict[str, str], descriptor: dict[str, Any]
           ) -> Callable[..., dict[str, Any]]:
    """Create a draft through the API and return its JSON."""

    def make(**changes: Any) -> dict[str, Any]:
        response = client.post("/api/v1/datasets", json=descriptor | changes,
                               headers=holder_headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def upload(client: FlaskClient, holder_headers: dict[str, str]) -> Callable[..., Any]:
    def send(dataset_id: int, body: bytes | str = GOOD_CSV, content_type: str = "text/csv",
             headers: dict[str, str] | None = None) -> Any:
        data = body.encode() if isinstance(body, str) else body
        return client.put(f"/api/v1/datasets/{dataset_id}/data", data=data,
                          content_type=content_type, headers=headers or holder_headers)

    return send


@pytest.fixture
def published(create: Callable[..., dict], upload: Callable[..., Any], client: FlaskClient,
              holder_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Create, fill and publish a dataset; return its descriptor."""

    def make(**changes: Any) -> dict[str, Any]:
        dataset = create(**changes)
        assert upload(dataset["id"]).status_code == 200
        response = client.post(f"/api/v1/datasets/{dataset['id']}/publish",
                               headers=holder_headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def demo_world(session, keyring, data_dir):
    """The demo organisations, 300 citizens and the catalog's demo datasets."""
    from marketplace.catalog import demo as catalog_demo
    from marketplace.identity import demo as identity_demo

    orgs = identity_demo.seed_orgs_and_users(session)
    population = identity_demo.seed_citizens(
        session, keyring=keyring, population=identity_demo.synthetic_population(300))
    world = identity_demo.DemoWorld(orgs=orgs, population=population, keyring=keyring,
                                    data_dir=data_dir)
    catalog_demo.seed_demo(session, world)
    session.flush()
    return world
