"""Fixtures of the statistics tests: a published admissions dataset, a company and its user."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.catalog.models import Dataset
from marketplace.identity import services as identity_services
from marketplace.identity.models import Organisation, User
from marketplace.identity.principal import Principal
from tests.delivery import conftest as delivery_fixtures


def descriptor(**changes: Any) -> dict[str, Any]:
    """Delivery's admissions descriptor, restricted and with the holder's usual threshold."""
    return delivery_fixtures.descriptor(**({"access_rights": "RESTRICTED", "k_min": 5}
                                           | changes))


def admissions_csv(rows: int = 800, persons: int = 200, seed: int = 11
                   ) -> tuple[str, pd.DataFrame]:
    return delivery_fixtures.admissions_csv(rows, persons, seed)


@dataclass
class World:
    holder: Organisation
    holder_actor: Principal
    company: Organisation
    company_user: User
    company_actor: Principal
    dataset: Dataset
    data: pd.DataFrame
    publish: Callable[..., Dataset]


@pytest.fixture
def world(session: Session, app: Flask, keyring: Any, make_org: Callable[..., Organisation],
          make_user: Callable[..., User]) -> World:
    holder = make_org(kind="regional", slug="stat-hospital")
    holder_actor = identity_services.staff_principal(make_user(holder, role="holder_admin"))
    company = make_org(kind="company", slug="stat-company", name="Statistik ApS")
    company_user = make_user(company, role="company_member")
    company_actor = identity_services.staff_principal(company_user)

    def publish(text: str, **changes: Any) -> Dataset:
        dataset = catalog_services.create_dataset(
            session, actor=holder_actor,
            descriptor=Descriptor.model_validate(descriptor(**changes)))
        version = catalog_services.upload_version(
            session, actor=holder_actor, dataset_id=dataset.id,
            stream=io.BytesIO(text.encode()), media_type="text/csv", keyring=keyring,
            data_dir=app.config["DATA_DIR"], max_bytes=50_000_000)
        assert version.is_valid, version.report
        catalog_services.publish_dataset(session, actor=holder_actor, dataset_id=dataset.id)
        session.commit()
        return dataset

    text, frame = admissions_csv()
    dataset = publish(text)
    return World(holder, holder_actor, company, company_user, company_actor, dataset, frame,
                 publish)


@pytest.fixture
def company_headers(world: World, api_headers: Callable[..., dict[str, str]]
                    ) -> dict[str, str]:
    return api_headers(world.company, scopes="statistics:request access:request")
