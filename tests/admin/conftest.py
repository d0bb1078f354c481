"""Fixtures of the console's tests: the platform operator, people of every other kind, and the
delivery world (a company with a permit) for the job queues."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from marketplace.identity.models import Citizen, Organisation, User
from tests.delivery.conftest import upload, world  # noqa: F401  (shared fixtures)


@dataclass
class Operator:
    org: Organisation
    user: User


@pytest.fixture
def operator(make_org: Callable[..., Organisation], make_user: Callable[..., User]) -> Operator:
    org = make_org(kind="operator", slug="platform")
    return Operator(org, make_user(org, role="operator"))


@pytest.fixture
def as_operator(operator: Operator, login: Callable[[User | Citizen], None],
                csrf_headers: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Sign the test client in as the operator; return the CSRF header for JSON calls."""
    login(operator.user)
    return csrf_headers()


@pytest.fixture
def operator_token(operator: Operator, api_headers: Callable[..., dict[str, str]]
                   ) -> dict[str, str]:
    return api_headers(operator.org, scopes="platform:admin")


@pytest.fixture
def others(make_org: Callable[..., Organisation], make_user: Callable[..., User],
           make_citizen: Callable[..., tuple[Citizen, str]]) -> dict[str, User | Citizen]:
    """One person of every kind that is not the operator."""
    company = make_org(kind="company")
    holder = make_org(kind="regional")
    return {"citizen": make_citizen()[0],
            "company": make_user(company, role="company_member"),
            "holder": make_user(holder, role="holder_admin")}


def form_post(client: FlaskClient, path: str, data: dict | None = None, **kwargs):
    """Post a console form with the page's CSRF token, as the browser would."""
    import re

    page = client.get("/").get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    token = found.group(1) if found else ""
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)
