"""A small growth world: a cluster with secretariat and steering group, a hospital, a
municipality and two companies, signed in through real sign-in records."""
from dataclasses import dataclass

import pytest

from marketplace.identity.models import Organisation, User


@dataclass
class GrowthWorld:
    cluster: Organisation
    secretariat: User
    steering: User
    hospital: Organisation
    hospital_admin: User
    municipality: Organisation
    municipality_admin: User
    company: Organisation
    company_user: User
    rival: Organisation
    rival_user: User


@pytest.fixture
def growth(make_org, make_user) -> GrowthWorld:
    cluster = make_org(kind="cluster", slug="chc")
    hospital = make_org(kind="regional", slug="herlev")
    municipality = make_org(kind="municipal", slug="albertslund")
    company = make_org(kind="company", slug="pulmo")
    rival = make_org(kind="company", slug="rival")
    return GrowthWorld(
        cluster=cluster, secretariat=make_user(cluster, role="secretariat"),
        steering=make_user(cluster, role="steering_group"), hospital=hospital,
        hospital_admin=make_user(hospital, role="holder_admin"), municipality=municipality,
        municipality_admin=make_user(municipality, role="holder_admin"), company=company,
        company_user=make_user(company, role="company_member"), rival=rival,
        rival_user=make_user(rival, role="company_member"),
    )


@pytest.fixture
def as_user(client, login, csrf_headers):
    """Sign in as `user` and return the CSRF headers of that session."""

    def sign_in(user):
        login(user)
        return csrf_headers()

    return sign_in
