"""The data holder's review of statistics requests a policy rule sent to review: the queue,
releasing (delivered as an automatic answer is) and refusing with a comment."""
from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from marketplace.audit import AuditEntry
from marketplace.delivery import output
from marketplace.statistics.models import StatisticsRequest
from tests.statistics.test_views import ask


@pytest.fixture
def sensitive(world):
    """A non-public dataset: a company's question about it goes to the holder."""
    return world.publish(world.data.to_csv(index=False), access_rights="NON_PUBLIC",
                         title="Følsomme indlæggelser")


@pytest.fixture
def holder_headers(world, api_headers):
    return api_headers(world.holder, scopes="access:review")


@pytest.fixture
def waiting(client, world, sensitive, company_headers):
    body = client.post("/api/v1/statistics-requests", headers=company_headers,
                       json=ask(dataset=sensitive.id, group_by=["sex"])).get_json()
    assert body["status"] == "review", body
    return body


def actions(session, request_id):
    return session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.subject_type == "statistics_request",
        AuditEntry.subject_id == str(request_id)).order_by(AuditEntry.id)).all()


def test_the_holder_sees_waiting_requests_with_the_rules_reasons(client, waiting,
                                                                 holder_headers, world):
    response = client.get("/api/v1/statistics-reviews?lang=en", headers=holder_headers)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["id"] for i in items] == [waiting["id"]]
    item = items[0]
    assert item["company"] == "Statistik ApS" and item["dataset_title"] == "Følsomme indlæggelser"
    assert item["decision"]["reasons"][0]["rule"] == "review.commercial_sensitive"
    assert "non-public dataset" in item["decision"]["reasons"][0]["message"]
    assert "result" not in item
    assert item["due_at"] > item["created_at"] and 3 <= item["working_days_left"] <= 5


def test_releasing_delivers_the_table_as_an_automatic_answer(client, session, world, waiting,
                                                             holder_headers, company_headers):
    response = client.post(f"/api/v1/statistics-requests/{waiting['id']}/review",
                           headers=holder_headers, json={"decision": "approve"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "released" and body["review"]["decision"] == "approve"
    persons = world.data.groupby("sex", observed=True)["cpr"].nunique()
    shown = {row[0]: row[1] for row in body["result"]["rows"]}
    assert shown["female"] == 5 * round(persons["female"] / 5)
    # The company sees it as any answer: status, the table, CSV and its signed manifest.
    mine = client.get(f"/api/v1/statistics-requests/{waiting['id']}",
                      headers=company_headers).get_json()
    assert mine["status"] == "released" and mine["result"] == body["result"]
    csv = client.get(f"/api/v1/statistics-requests/{waiting['id']}/result?format=csv",
                     headers=company_headers)
    manifest = client.get(f"/api/v1/statistics-requests/{waiting['id']}/manifest",
                          headers=company_headers).get_json()
    assert manifest["sha256"] == hashlib.sha256(csv.data).hexdigest()
    pinned = client.get("/.well-known/marketplace-signing-key").get_json()["public_key"]
    assert output.verify_manifest(manifest, public_key_b64=pinned)
    register = client.get("/api/v1/statistics-register").get_json()["items"]
    assert waiting["id"] in [entry["id"] for entry in register]
    assert actions(session, waiting["id"])[:3] == [
        "statistics_request.decided", "statistics_request.approved",
        "statistics_request.released"]
    # Decided once: no second decision.
    again = client.post(f"/api/v1/statistics-requests/{waiting['id']}/review",
                        headers=holder_headers, json={"decision": "reject", "comment": "nej"})
    assert again.status_code == 409


def test_refusing_needs_a_comment_the_company_then_sees(client, session, waiting,
                                                       holder_headers, company_headers):
    path = f"/api/v1/statistics-requests/{waiting['id']}/review"
    bare = client.post(path, headers=holder_headers, json={"decision": "reject"})
    assert bare.status_code == 422
    assert bare.get_json()["errors"][0]["message"] == "skriv en begrundelse til virksomheden"
    assert session.get(StatisticsRequest, waiting["id"]).status == "review"
    refused = client.post(path, headers=holder_headers, json={
        "decision": "reject", "comment": "Tallene kan bruges til at genkende patienter."})
    assert refused.status_code == 200
    mine = client.get(f"/api/v1/statistics-requests/{waiting['id']}",
                      headers=company_headers).get_json()
    assert mine["status"] == "rejected" and "result" not in mine
    assert mine["review"]["comment"] == "Tallene kan bruges til at genkende patienter."
    assert client.get(f"/api/v1/statistics-requests/{waiting['id']}/result",
                      headers=company_headers).status_code == 409
    assert "statistics_request.rejected" in actions(session, waiting["id"])
    assert client.get("/api/v1/statistics-reviews",
                      headers=holder_headers).get_json()["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"decision": "maybe"}, "decision"),
    ({"decision": "approve", "comment": "x" * 4001}, "comment"),
    ({"decision": "reject", "comment": "Borger 010203-1234 er med"}, "comment"),
    ({"decision": "approve", "extra": 1}, "extra"),
    ({}, "decision"),
])
def test_bad_decisions_are_refused_and_change_nothing(client, session, waiting, holder_headers,
                                                      body, field):
    response = client.post(f"/api/v1/statistics-requests/{waiting['id']}/review",
                           headers=holder_headers, json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert "010203" not in response.get_data(as_text=True)
    assert session.get(StatisticsRequest, waiting["id"]).status == "review"


def test_only_the_datasets_holder_decides(client, session, waiting, world, make_org,
                                          api_headers, company_headers):
    path = f"/api/v1/statistics-requests/{waiting['id']}/review"
    other_holder = api_headers(make_org(kind="regional"), scopes="access:review")
    assert client.post(path, headers=other_holder,
                       json={"decision": "approve"}).status_code == 404
    assert client.get("/api/v1/statistics-reviews",
                      headers=other_holder).get_json()["items"] == []
    # The company asking cannot decide, nor read the queue.
    assert client.post(path, headers=company_headers,
                       json={"decision": "approve"}).status_code == 403
    assert client.get("/api/v1/statistics-reviews", headers=company_headers).status_code == 403
    publisher = api_headers(world.holder, scopes="catalog:write")
    assert client.post(path, headers=publisher, json={"decision": "approve"}).status_code == 403
    assert client.post(path, json={"decision": "approve"}).status_code == 401
    assert client.post("/api/v1/statistics-requests/999999/review",
                       headers=api_headers(world.holder, scopes="access:review"),
                       json={"decision": "approve"}).status_code == 404
    assert session.get(StatisticsRequest, waiting["id"]).status == "review"


def test_a_request_answered_at_once_is_not_the_holders_to_decide(client, world, company_headers,
                                                                 holder_headers):
    answered = client.post("/api/v1/statistics-requests", headers=company_headers,
                           json=ask(dataset=world.dataset.id)).get_json()
    response = client.post(f"/api/v1/statistics-requests/{answered['id']}/review",
                           headers=holder_headers, json={"decision": "reject", "comment": "nej"})
    assert response.status_code == 409


# --- the pages -----------------------------------------------------------------------------

def test_the_holder_decides_on_the_page(client, session, world, waiting, login, csrf_headers,
                                        make_user):
    reviewer = make_user(world.holder, role="reviewer")
    login(reviewer)
    queue = client.get("/statistics-reviews")
    html = queue.get_data(as_text=True)
    assert queue.status_code == 200 and "Statistik ApS" in html
    assert "review.commercial_sensitive" in html and 'href="/statistics-reviews"' in html
    assert "arbejdsdage tilbage" in html
    page = client.get(f"/statistics-reviews/{waiting['id']}")
    assert "Et kommercielt formål på et ikke-offentligt datasæt" in page.get_data(as_text=True)
    token = csrf_headers()["X-CSRF-Token"]
    refused = client.post(f"/statistics-reviews/{waiting['id']}",
                          data={"csrf_token": token, "decision": "reject", "comment": ""})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="comment-error"' in html and "skriv en begrundelse til virksomheden" in html
    assert session.get(StatisticsRequest, waiting["id"]).status == "review"
    released = client.post(f"/statistics-reviews/{waiting['id']}",
                           data={"csrf_token": token, "decision": "approve"})
    assert released.status_code == 302
    assert "Tabellen er frigivet" in client.get("/statistics-reviews").get_data(as_text=True)
    session.expire_all()
    assert session.get(StatisticsRequest, waiting["id"]).status == "released"
    # The company sees the outcome on its own page.
    login(world.company_user)
    mine = client.get(f"/statistics/{waiting['id']}").get_data(as_text=True)
    assert "Tabellen er frigivet af dataholderen." in mine and "<table>" in mine


def test_the_review_page_is_for_the_holder_only(client, world, waiting, login, make_org,
                                                make_user, csrf_headers):
    login(make_user(make_org(kind="regional"), role="reviewer"))
    assert client.get(f"/statistics-reviews/{waiting['id']}").status_code == 404
    token = csrf_headers()["X-CSRF-Token"]
    assert client.post(f"/statistics-reviews/{waiting['id']}",
                       data={"csrf_token": token, "decision": "approve"}).status_code == 404
    login(world.company_user)
    assert client.get("/statistics-reviews").status_code == 403
    assert client.get(f"/statistics/{waiting['id']}").status_code == 200


def test_ids_beyond_the_database_range_name_nothing(client, world, login, make_user):
    login(make_user(world.holder, role="reviewer"))
    assert client.get("/statistics-reviews/99999999999").status_code == 404


def test_a_page_post_without_csrf_is_refused(client, session, world, waiting, login, make_user):
    login(make_user(world.holder, role="reviewer"))
    response = client.post(f"/statistics-reviews/{waiting['id']}", data={"decision": "approve"})
    assert response.status_code in (400, 403)
    assert session.get(StatisticsRequest, waiting["id"]).status == "review"


def test_nobody_decides_on_their_own_request(client, session, world, sensitive, api_headers):
    both = api_headers(world.holder, scopes="statistics:request access:review")
    own = client.post("/api/v1/statistics-requests", headers=both,
                      json=ask(dataset=sensitive.id)).get_json()
    assert own["status"] == "review", own
    response = client.post(f"/api/v1/statistics-requests/{own['id']}/review", headers=both,
                           json={"decision": "approve"})
    assert response.status_code == 403
    assert session.get(StatisticsRequest, own["id"]).status == "review"


def test_a_table_that_can_no_longer_be_protected_is_not_released(client, session, world,
                                                                 sensitive, company_headers,
                                                                 holder_headers, api_headers):
    women = world.data.loc[world.data["sex"] == "female", "cpr"].nunique()
    asked = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=sensitive.id, cohort={"sex": ["female"]})).get_json()
    assert asked["status"] == "review"
    # The holder raises the threshold above the cohort before deciding.
    rules = {"threshold": women + 1, "rounding_base": 5, "epsilon_budget": 5,
             "epsilon_per_request": 1}
    assert client.put(f"/api/v1/datasets/{sensitive.id}/statistics-policy",
                      headers=api_headers(world.holder, scopes="catalog:write"),
                      json=rules).status_code == 200
    response = client.post(f"/api/v1/statistics-requests/{asked['id']}/review?lang=en",
                           headers=holder_headers, json={"decision": "approve"})
    assert response.status_code == 409
    assert response.get_json()["detail"] == (
        f"the cohort now has fewer than {women + 1} persons; the table cannot be released")
    session.expire_all()
    stored = session.get(StatisticsRequest, asked["id"])
    assert stored.status == "review" and stored.result is None and stored.reviewed_at is None
