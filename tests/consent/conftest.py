"""Fixtures of the consent tests: principals, holders and published datasets."""
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset
from marketplace.identity import services as identity
from marketplace.identity.models import Citizen, Organisation
from marketplace.identity.principal import Principal

CHILD_CPR = "1204164321"  # born 12 April 2016: under 15 until 12 April 2031


@pytest.fixture
def as_principal() -> Callable[[Citizen], Principal]:
    return identity.citizen_principal


@pytest.fixture
def make_dataset(session: Session) -> Callable[..., Dataset]:
    """A dataset row of a data holder (published unless told otherwise)."""

    def make(holder: Organisation, *, title: str = "Hjemmepleje 2024",
             status: str = "published", consent_model: str = "opt_out") -> Dataset:
        dataset = Dataset(publisher_org_id=holder.id, status=status, title=title,
                          description="Testdata", access_rights="RESTRICTED",
                          legal_basis="EHDS", consent_model=consent_model,
                          data_use={"permission": "HMB", "diseases": [], "modifiers": []},
                          subject_column="cpr", columns=[])
        session.add(dataset)
        session.flush()
        return dataset

    return make


@pytest.fixture
def citizen(make_citizen, login) -> Citizen:
    """A signed-in citizen."""
    citizen, _cpr = make_citizen(name="Mette Hansen")
    login(citizen)
    return citizen


@pytest.fixture
def headers(citizen: Citizen, csrf_headers) -> dict[str, str]:
    """JSON headers of the signed-in citizen's session."""
    return {**csrf_headers(), "Content-Type": "application/json"}
