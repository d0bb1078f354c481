"""The /statistics page: the form, the answer as a table and a chart, and errors."""
from __future__ import annotations

import sqlalchemy as sa

from marketplace.statistics.models import StatisticsRequest


def form(world, **changes):
    values = {"title": "Personer pr. køn", "description": "Basislinje",
              "purpose": "company_research", "dataset": str(world.dataset.id),
              "measures": ["count_persons", "mean"], "measure_column": "length_of_stay",
              "group_by": ["sex"], "method": "sdc"}
    values.update(changes)
    return values


def test_the_form_asks_and_shows_the_table_and_chart(client, world, login, csrf_headers):
    login(world.company_user)
    page = client.get("/statistics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Anonym statistik" in html and 'data-feasibility="/api/v1/feasibility"' in html
    assert "feasibility.js" in html and "<script>" not in html
    token = csrf_headers()["X-CSRF-Token"]
    answer = client.post("/statistics", data={**form(world), "csrf_token": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    html = answer.get_data(as_text=True)
    assert "<table>" in html and "I alt" in html and "<svg" in html
    assert "format=csv" in html
    english = client.get("/statistics?lang=en")
    assert "Anonymous statistics" in english.get_data(as_text=True)


def test_bad_form_input_is_shown_in_danish_and_changes_nothing(client, session, world, login,
                                                                csrf_headers):
    login(world.company_user)
    token = csrf_headers()["X-CSRF-Token"]
    before = session.scalar(sa.select(sa.func.count()).select_from(StatisticsRequest))
    bad = client.post("/statistics", data={**form(world, extra_group="shoe_size"),
                                           "csrf_token": token})
    assert bad.status_code == 422
    assert "kan ikke grupperes efter" in bad.get_data(as_text=True)
    empty = client.post("/statistics", data={**form(world, title="", age_min="abc"),
                                             "csrf_token": token})
    assert empty.status_code == 422
    assert "skal udfyldes" in empty.get_data(as_text=True)
    after = session.scalar(sa.select(sa.func.count()).select_from(StatisticsRequest))
    assert after == before


def test_a_result_page_is_only_for_its_company(client, session, world, login, make_org,
                                               make_user, csrf_headers):
    login(world.company_user)
    token = csrf_headers()["X-CSRF-Token"]
    client.post("/statistics", data={**form(world), "csrf_token": token})
    created = session.scalars(sa.select(StatisticsRequest)).all()[-1]
    assert client.get(f"/statistics/{created.id}").status_code == 200
    rival = make_user(make_org(kind="company"), role="company_member")
    session.commit()
    login(rival)
    assert client.get(f"/statistics/{created.id}").status_code == 404


def test_the_page_needs_a_signed_in_person(client, world):
    response = client.get("/statistics")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
