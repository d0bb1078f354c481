"""The public register's kept pages: a change shows at once, a permit that runs out turns
"expired" on time, and a renamed company shows within the pages' maximum age."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from marketplace.access import register
from marketplace.access.models import Permit
from marketplace.db import utcnow
from marketplace.web.api import PageQuery
from tests.access.conftest import application


@pytest.fixture
def company_headers(world, api_headers):
    return api_headers(world.company, scopes="access:request")


def _apply(client, world, headers) -> int:
    created = client.post("/api/v1/access-requests", json=application(world.herlev_data),
                          headers=headers).get_json()
    return int(created["permit"]["id"])


def test_a_new_permit_shows_at_once_after_the_page_was_served(client, world, company_headers):
    first = _apply(client, world, company_headers)
    assert [i["permit_id"] for i in client.get("/api/v1/register").get_json()["items"]] == [first]
    second = _apply(client, world, company_headers)
    page = client.get("/api/v1/register").get_json()
    assert [i["permit_id"] for i in page["items"]] == [second, first]
    assert page["total"] == 2


def test_a_kept_page_turns_expired_when_its_permit_runs_out(app, session, client, world,
                                                            company_headers):
    permit_id = _apply(client, world, company_headers)
    ends = session.get(Permit, permit_id).valid_until
    engine = app.extensions["marketplace.access_engine"]
    paging = PageQuery(page=1, per_page=50)

    def status_at(moment) -> str:
        page = json.loads(register.register_page(session, paging=paging, engine=engine,
                                                 now=moment))
        return str(page["items"][0]["status"])

    assert status_at(ends - timedelta(seconds=5)) == "active"
    assert status_at(ends + timedelta(seconds=1)) == "expired"


def test_a_renamed_company_shows_within_the_maximum_age(app, session, client, world,
                                                       company_headers):
    _apply(client, world, company_headers)
    engine = app.extensions["marketplace.access_engine"]
    paging = PageQuery(page=1, per_page=50)
    now = utcnow()

    def company_at(moment) -> str:
        page = json.loads(register.register_page(session, paging=paging, engine=engine,
                                                 now=moment))
        return str(page["items"][0]["company"]["name"])

    before = company_at(now)
    renamed = world.company.name = "Pulmo Monitor ApS (nyt navn)"
    session.flush()
    assert company_at(now + timedelta(seconds=1)) == before
    assert company_at(now + register.MAX_AGE + timedelta(seconds=1)) == renamed
