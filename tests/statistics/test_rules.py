"""Holders' statistics rules per dataset: set through the API and the page, never below the
platform's floor, audited, and used by feasibility counts and statistics requests."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.audit import AuditEntry
from marketplace.statistics.models import StatisticsPolicy
from tests.statistics.test_views import ask

RULES = {"threshold": 10, "rounding_base": 10, "epsilon_budget": 3.0, "epsilon_per_request": 0.5}


@pytest.fixture
def holder_writer(world, api_headers):
    return api_headers(world.holder, scopes="catalog:write")


def path(world):
    return f"/api/v1/datasets/{world.dataset.id}/statistics-policy"


def test_the_holder_sets_the_rules_and_the_change_is_audited(client, session, world,
                                                             holder_writer, company_headers):
    shown = client.get(path(world), headers=company_headers).get_json()
    assert shown == {"dataset_id": world.dataset.id, "threshold": 5, "rounding_base": 5,
                     "epsilon_budget": 5.0, "epsilon_per_request": 2.0, "epsilon_spent": 0.0,
                     "minimum_threshold": 5}
    response = client.put(path(world), headers=holder_writer, json=RULES)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() | {} == {**shown, **RULES}
    entry = session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "statistics_policy.set")).one()
    assert entry.subject_id == str(world.dataset.id)
    assert entry.details["before"]["threshold"] == 5 and entry.details["after"]["threshold"] == 10


def test_a_higher_threshold_hides_more_in_counts_and_tables(client, world, holder_writer,
                                                            company_headers):
    women = world.data.loc[world.data["sex"] == "female", "cpr"].nunique()
    cohort = {"sex": ["female"]}
    before = client.post("/api/v1/feasibility", headers=company_headers, json={
        "datasets": [world.dataset.id], "cohort": cohort}).get_json()
    assert before == {"persons": 5 * round(women / 5), "rounded_to": 5, "suppressed": False,
                      "threshold": 5}
    table = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, group_by=["age_band"])).get_json()["result"]
    assert client.put(path(world), headers=holder_writer,
                      json={**RULES, "threshold": women + 1}).status_code == 200
    after = client.post("/api/v1/feasibility", headers=company_headers, json={
        "datasets": [world.dataset.id], "cohort": cohort}).get_json()
    assert after == {"persons": None, "rounded_to": 10, "suppressed": True,
                     "threshold": women + 1}
    stricter = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, group_by=["sex"], cohort={"age": [0, 130]})).get_json()
    result = stricter["result"]
    assert result["rules"]["threshold"] == women + 1 and result["rules"]["rounding"] == 10
    assert all(value is None or value % 10 == 0 for row in result["rows"] for value in row[1:])
    assert result["suppressed_cells"] > table["suppressed_cells"]


def test_a_dp_request_spends_no_more_than_the_holder_allows(client, world, holder_writer,
                                                            company_headers):
    client.put(path(world), headers=holder_writer, json=RULES)
    dp = ask(dataset=world.dataset.id, method="dp", group_by=["sex"])
    too_much = client.post("/api/v1/statistics-requests", headers=company_headers,
                           json={**dp, "epsilon": 1.0})
    assert too_much.status_code == 422
    assert too_much.get_json()["errors"][0]["field"] == "epsilon"
    assert "0.5" in too_much.get_json()["errors"][0]["message"]
    usual = client.post("/api/v1/statistics-requests", headers=company_headers, json=dp)
    assert usual.status_code == 201
    assert usual.get_json()["epsilon"] == 0.5
    assert client.get(path(world), headers=company_headers).get_json()["epsilon_spent"] == 0.5


@pytest.mark.parametrize("changes, field", [
    ({"threshold": 4}, "threshold"),
    ({"threshold": 1}, "threshold"),
    ({"threshold": 1001}, "threshold"),
    ({"threshold": "many"}, "threshold"),
    ({"rounding_base": 0}, "rounding_base"),
    ({"rounding_base": 101}, "rounding_base"),
    ({"epsilon_budget": 0}, "epsilon_budget"),
    ({"epsilon_budget": -1}, "epsilon_budget"),
    ({"epsilon_budget": 1e308 * 10}, "epsilon_budget"),
    ({"epsilon_budget": "NaN"}, "epsilon_budget"),
    ({"threshold": True}, "threshold"),
    ({"threshold": 5.5}, "threshold"),
    ({"epsilon_per_request": 2.5}, "epsilon_per_request"),
    ({"epsilon_budget": 0.2, "epsilon_per_request": 0.5}, "epsilon_per_request"),
    ({"extra": 1}, "extra"),
])
def test_bad_rules_are_refused_and_change_nothing(client, session, world, holder_writer,
                                                 changes, field):
    response = client.put(path(world), headers=holder_writer, json={**RULES, **changes})
    assert response.status_code == 422, response.get_json()
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert session.get(StatisticsPolicy, world.dataset.id) is None


def test_a_threshold_under_the_datasets_k_is_refused(client, world, holder_writer):
    strict = world.publish(world.data.to_csv(index=False), k_min=20)
    response = client.put(f"/api/v1/datasets/{strict.id}/statistics-policy?lang=en",
                          headers=holder_writer, json={**RULES, "threshold": 10})
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "threshold", "message": "must be at least 20: the platform's and the "
                                          "dataset's limit"}]


def test_only_the_holders_administrators_set_the_rules(client, session, world, make_org,
                                                       api_headers, company_headers):
    assert client.put(path(world), headers=company_headers, json=RULES).status_code == 403
    other = api_headers(make_org(kind="regional"), scopes="catalog:write")
    assert client.put(path(world), headers=other, json=RULES).status_code == 403
    assert client.put(path(world), json=RULES).status_code == 401
    assert client.put("/api/v1/datasets/999999/statistics-policy",
                      headers=api_headers(world.holder, scopes="catalog:write"),
                      json=RULES).status_code == 404
    assert session.get(StatisticsPolicy, world.dataset.id) is None


# --- the page ------------------------------------------------------------------------------

def test_the_holder_sets_the_rules_on_the_page(client, session, world, login, csrf_headers,
                                               make_user):
    login(make_user(world.holder, role="holder_admin"))
    page_path = f"/datasets/{world.dataset.id}/statistics-policy"
    page = client.get(page_path)
    assert page.status_code == 200
    assert 'name="threshold"' in page.get_data(as_text=True)
    token = csrf_headers()["X-CSRF-Token"]
    bad = client.post(page_path, data={"csrf_token": token, "threshold": "3",
                                       "rounding_base": "5", "epsilon_budget": "5",
                                       "epsilon_per_request": "1"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="threshold-error"' in html and 'aria-invalid="true"' in html
    assert 'value="3"' in html  # what was typed is kept
    assert session.get(StatisticsPolicy, world.dataset.id) is None
    saved = client.post(page_path, data={"csrf_token": token, "threshold": "8",
                                         "rounding_base": "10", "epsilon_budget": "4,5",
                                         "epsilon_per_request": "0,5"})
    assert saved.status_code == 302
    assert "Reglerne for statistik er gemt." in client.get(page_path).get_data(as_text=True)
    session.expire_all()
    stored = session.get(StatisticsPolicy, world.dataset.id)
    assert (stored.threshold, stored.rounding_base, stored.epsilon_budget,
            stored.epsilon_per_request) == (8, 10, 4.5, 0.5)
    english = client.post(page_path + "?lang=en", data={
        "csrf_token": token, "threshold": "8", "rounding_base": "10", "epsilon_budget": "0.2",
        "epsilon_per_request": "0.5"})
    assert "cannot be larger than the whole budget" in english.get_data(as_text=True)


def test_other_staff_cannot_open_the_rules_page(client, world, login, make_user, make_org):
    login(world.company_user)
    assert client.get(f"/datasets/{world.dataset.id}/statistics-policy").status_code == 403
    login(make_user(make_org(kind="regional"), role="holder_admin"))
    assert client.get(f"/datasets/{world.dataset.id}/statistics-policy").status_code == 403
    assert client.get("/datasets/99999999999/statistics-policy").status_code == 404
