"""The access API and pages: applicants, reviewers, the public register, and bad input."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.access.models import AccessRequest
from marketplace.audit import AuditEntry
from tests.access.conftest import application


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def company_headers(world, api_headers):
    return api_headers(world.company, scopes="access:request")


def test_api_application_is_decided_at_once(client, world, company_headers):
    response = client.post("/api/v1/access-requests", json=application(world.herlev_data),
                           headers=company_headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/access-requests/{body['id']}")
    assert body["status"] == "permitted"
    assert body["decision"]["outcome"] == "permit"
    assert len(body["decision"]["policy_version"]) == 64
    assert body["decision"]["reasons"][0]["rule"] == "base.permit"
    assert body["permit"]["status"] == "active"
    assert body["permit"]["valid_until"] > body["permit"]["approved_at"]

    permit = client.get(f"/api/v1/permits/{body['permit']['id']}", headers=company_headers)
    assert permit.status_code == 200
    assert permit.get_json()["datasets"][0]["dataset_id"] == world.herlev_data.id


def test_denied_application_is_stored_with_its_reasons(client, world, company_headers):
    body = application(world.herlev_data, purpose="insurance_credit_employment")
    response = client.post("/api/v1/access-requests", json=body, headers=company_headers)
    assert response.status_code == 201
    decision = response.get_json()["decision"]
    assert decision["outcome"] == "deny"
    assert [r["rule"] for r in decision["reasons"]] == ["prohibited.insurance_credit_employment"]
    assert "54(b)" in decision["reasons"][0]["message"]
    assert response.get_json()["permit"] is None


def test_applying_needs_the_request_scope(client, world, api_headers):
    body = application(world.herlev_data)
    assert client.post("/api/v1/access-requests", json=body).status_code == 401
    wrong = api_headers(world.herlev, scopes="catalog:write")
    response = client.post("/api/v1/access-requests", json=body, headers=wrong)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


BAD_INPUT = {
    "unknown dataset": ({"datasets": [{"id": 987654, "columns": ["sex"]}]}, "datasets[0].id"),
    "unknown column": ({"datasets": "UNKNOWN_COLUMN"}, "datasets[0].columns"),
    "empty purpose": ({"purpose": ""}, "purpose"),
    "unknown purpose": ({"purpose": "world_domination"}, "purpose"),
    "20,000 columns": ({"datasets": "MANY_COLUMNS"}, "datasets[0].columns"),
    "100 years": ({"duration_days": 36_500}, "duration_days"),
    "no datasets": ({"datasets": []}, "datasets"),
    "hostile title": ({"title": "x" * 5000}, "title"),
    "bad cohort": ({"cohort": {"age": [90, 40], "planet": "Mars"}}, "cohort.age"),
    "bad diagnosis": ({"diseases": ["DROP TABLE"]}, "diseases[0]"),
    "unknown test environment": ({"test_environment": 424242}, "test_environment"),
    "id beyond 32 bits": ({"datasets": [{"id": 2**31, "columns": ["sex"]}]}, "datasets[0].id"),
    "course beyond 32 bits": ({"test_course": 2**63}, "test_course"),
    "lone surrogate": ({"title": "\ud800"}, "title"),
    "NUL byte": ({"safeguards": "før\x00efter"}, "safeguards"),
    "cohort as a list": ({"cohort": ["age"]}, "cohort"),
    "unknown field": ({"planet": "Mars"}, "planet"),
}


@pytest.mark.parametrize(("change", "field"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_a_clear_422_and_stores_nothing(client, session, world, company_headers,
                                                     change, field):
    body = application(world.herlev_data)
    if change.get("datasets") == "UNKNOWN_COLUMN":
        body["datasets"][0]["columns"] = ["sex", "shoe_size"]
    elif change.get("datasets") == "MANY_COLUMNS":
        body["datasets"][0]["columns"] = [f"c{i}" for i in range(20_000)]
    else:
        body.update(change)
    response = client.post("/api/v1/access-requests", json=body, headers=company_headers)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in {e["field"] for e in problem["errors"]}
    assert all(e["message"] for e in problem["errors"])
    assert _count(session, AccessRequest) == 0
    assert _count(session, AuditEntry) == 0


def test_non_json_body_is_a_400(client, company_headers):
    response = client.post("/api/v1/access-requests", data="title=x", headers=company_headers,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


@pytest.mark.parametrize("body", ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000,
                                  "[" * 100_000, '"\\ud800"', '{"title": "\x00', "\xff\xfe"])
def test_hostile_json_is_a_4xx_and_stores_nothing(client, session, company_headers, body):
    response = client.post("/api/v1/access-requests", data=body.encode("utf-8", "surrogatepass"),
                           headers=company_headers, content_type="application/json")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:200]
    assert response.mimetype == "application/problem+json"
    assert _count(session, AccessRequest) == 0


@pytest.mark.parametrize("path", ["/api/v1/access-requests/2147483648",
                                  "/api/v1/permits/99999999999999999999",
                                  "/api/v1/access-requests?page=2147483648",
                                  "/api/v1/register?per_page=1.5"])
def test_ids_and_pages_beyond_range_are_a_422(client, company_headers, path):
    response = client.get(path, headers=company_headers)
    assert response.status_code == 422, response.get_data(as_text=True)[:200]
    assert response.get_json()["errors"]


def test_hostile_review_and_revocation_bodies_are_a_422(client, world, api_headers):
    reviewer = api_headers(world.herlev, scopes="access:review")
    for path, body in [("/api/v1/access-requests/1/review", {"decision": ["approve"]}),
                       ("/api/v1/access-requests/1/review", {"decision": "reject",
                                                             "comment": "a\x00"}),
                       ("/api/v1/permits/1/revoke", {"reason": {"nested": 1}}),
                       ("/api/v1/permits/2147483648/revoke", {"reason": "x"})]:
        response = client.post(path, json=body, headers=reviewer)
        assert response.status_code == 422, (path, response.get_json())


def test_a_company_cannot_see_another_companys_applications(client, world, api_headers,
                                                           company_headers):
    created = client.post("/api/v1/access-requests", json=application(world.herlev_data),
                          headers=company_headers).get_json()
    rival = api_headers(world.rival, scopes="access:request")
    # Answered as ids that do not exist: another's id does not reveal that it exists.
    assert client.get(f"/api/v1/access-requests/{created['id']}", headers=rival).status_code == 404
    assert client.get("/api/v1/access-requests", headers=rival).get_json()["items"] == []
    assert client.get(f"/api/v1/permits/{created['permit']['id']}",
                      headers=rival).status_code == 404


def test_a_holder_client_without_the_review_scope_cannot_read_applications(
        client, world, api_headers, company_headers):
    created = client.post("/api/v1/access-requests", json=application(world.herlev_data),
                          headers=company_headers).get_json()
    publisher = api_headers(world.herlev_data.publisher, scopes="catalog:write")
    assert client.get(f"/api/v1/access-requests/{created['id']}",
                      headers=publisher).status_code == 404
    reviewer = api_headers(world.herlev_data.publisher, scopes="access:review")
    assert client.get(f"/api/v1/access-requests/{created['id']}",
                      headers=reviewer).status_code == 200


def test_reviewer_flow_over_the_api(client, world, login, csrf_headers, company_headers,
                                    api_headers):
    body = application(world.sensitive_data, purpose="company_research")
    created = client.post("/api/v1/access-requests", json=body,
                          headers=company_headers).get_json()
    assert created["status"] == "review"
    assert created["decision"]["reasons"][0]["rule"] == "review.commercial_sensitive"
    assert created["reviews"][0]["working_days_left"] >= 28

    albertslund = api_headers(world.albertslund, scopes="access:review")
    listed = client.get("/api/v1/access-requests", headers=albertslund).get_json()
    assert listed["items"] == []
    refused = client.post(f"/api/v1/access-requests/{created['id']}/review",
                          json={"decision": "approve"}, headers=albertslund)
    assert refused.status_code == 404

    login(world.herlev_reviewer)
    queue = client.get("/api/v1/reviews").get_json()["items"]
    assert [item["access_request"]["id"] for item in queue] == [created["id"]]
    no_csrf = client.post(f"/api/v1/access-requests/{created['id']}/review",
                          json={"decision": "approve"})
    assert no_csrf.status_code in (400, 403)
    approved = client.post(f"/api/v1/access-requests/{created['id']}/review",
                           json={"decision": "approve", "comment": "Fint"},
                           headers=csrf_headers())
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "permitted"
    assert approved.get_json()["permit"]["status"] == "active"


def test_changes_requested_then_amended_over_the_api(client, world, login, csrf_headers,
                                                     company_headers):
    created = client.post("/api/v1/access-requests", headers=company_headers,
                          json=application(world.sensitive_data,
                                           purpose="company_research")).get_json()
    login(world.herlev_reviewer)
    client.post(f"/api/v1/access-requests/{created['id']}/review", headers=csrf_headers(),
                json={"decision": "request_changes", "comment": "Fjern diagnose-kolonnen"})
    amended = client.put(f"/api/v1/access-requests/{created['id']}", headers=company_headers,
                         json=application(world.herlev_data))
    assert amended.status_code == 200, amended.get_json()
    assert amended.get_json()["round"] == 2
    assert amended.get_json()["status"] == "permitted"
    again = client.put(f"/api/v1/access-requests/{created['id']}", headers=company_headers,
                       json=application(world.herlev_data))
    assert again.status_code == 409


def test_revoke_over_the_api_and_register(client, world, company_headers, api_headers):
    created = client.post("/api/v1/access-requests", json=application(world.herlev_data),
                          headers=company_headers).get_json()
    permit_id = created["permit"]["id"]
    register = client.get("/api/v1/register").get_json()
    assert register["total"] == 1
    row = register["items"][0]
    assert row["company"]["slug"] == world.company.slug
    assert row["purpose"]["code"] == "public_research" and row["purpose"]["label_da"]
    assert row["datasets"][0]["title"] == "Herlev KOL"
    assert row["status"] == "active" and row["valid_until"]

    assert client.post(f"/api/v1/permits/{permit_id}/revoke", json={"reason": "x"},
                       headers=company_headers).status_code == 403
    holder = api_headers(world.herlev, scopes="access:review")
    missing = client.post(f"/api/v1/permits/{permit_id}/revoke", json={}, headers=holder)
    assert missing.status_code == 422
    revoked = client.post(f"/api/v1/permits/{permit_id}/revoke",
                          json={"reason": "Brud på vilkår"}, headers=holder)
    assert revoked.status_code == 200
    assert revoked.get_json()["status"] == "revoked"
    assert client.get("/api/v1/register").get_json()["items"][0]["status"] == "revoked"


def test_policies_are_public_and_named_in_openapi(client):
    rules = client.get("/api/v1/access-policies").get_json()
    assert len(rules["policy_version"]) == 64
    assert all(rule["reason"] and rule["reason_da"] for rule in rules["rules"])
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/api/v1/access-requests", "/api/v1/register",
            "/api/v1/access-requests/{request_id}/review"} <= set(paths)


# --- pages ----------------------------------------------------------------------------------

def test_company_applies_through_the_form(client, world, login, session):
    login(world.company_user)
    page = client.get("/requests/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Herlev KOL" in html and 'name="csrf_token"' in html
    assert "advertising_marketing" not in html  # prohibited purposes are not offered
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "title": "Hjemmemonitorering", "description": "Forskning",
            "purpose": "public_research", "dataset": str(world.herlev_data.id),
            f"columns-{world.herlev_data.id}": ["sex", "diagnosis"], "duration_days": "180",
            "age_min": "50", "age_max": "", "processors": "Dr. Hansen, forsker"}
    response = client.post("/requests/new", data=form)
    assert response.status_code == 302
    created = session.scalars(sa.select(AccessRequest)).one()
    assert created.cohort == {"age": [50, 130]}
    assert created.processors == [{"name": "Dr. Hansen", "role": "forsker", "email": ""}]
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tilladelse givet" in detail and "base.permit" in detail


def test_form_errors_are_shown_and_nothing_is_stored(client, world, login, session):
    login(world.company_user)
    html = client.get("/requests/new").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/requests/new", data={"csrf_token": token, "title": "",
                                                  "duration_days": "36500"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "duration_days" in page and "datasets" in page
    assert _count(session, AccessRequest) == 0


def test_detail_page_escapes_hostile_text_and_shows_reasons(client, world, company_headers,
                                                            login):
    created = client.post("/api/v1/access-requests", headers=company_headers,
                          json=application(world.herlev_data, purpose="reidentification",
                                           title="<script>alert(1)</script>")).get_json()
    login(world.company_user)
    html = client.get(f"/requests/{created['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "genidentificere" in html
    english = client.get(f"/requests/{created['id']}?lang=en").get_data(as_text=True)
    assert "re-identifying" in english


def test_reviewer_pages(client, world, company_headers, login):
    created = client.post("/api/v1/access-requests", headers=company_headers,
                          json=application(world.sensitive_data,
                                           purpose="company_research")).get_json()
    login(world.herlev_reviewer)
    queue = client.get("/reviews").get_data(as_text=True)
    assert "arbejdsdage tilbage" in queue and created["title"] in queue
    detail = client.get(f"/requests/{created['id']}").get_data(as_text=True)
    assert 'name="decision"' in detail and "arbejdsdage tilbage" in detail
    token = detail.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(f"/requests/{created['id']}/review",
                           data={"csrf_token": token, "decision": "reject", "comment": ""})
    assert response.status_code == 422
    response = client.post(f"/requests/{created['id']}/review",
                           data={"csrf_token": token, "decision": "reject",
                                 "comment": "Ikke nødvendigt"})
    assert response.status_code == 302
    assert "Afvist af dataholder" in client.get(f"/requests/{created['id']}").get_data(
        as_text=True)


def test_other_company_gets_the_not_found_page(client, world, company_headers, login):
    created = client.post("/api/v1/access-requests", json=application(world.herlev_data),
                          headers=company_headers).get_json()
    login(world.rival_user)
    assert client.get(f"/requests/{created['id']}").status_code == 404


def test_pages_need_sign_in(client):
    response = client.get("/requests")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_register_page_is_public(client, world, company_headers):
    client.post("/api/v1/access-requests", json=application(world.herlev_data),
                headers=company_headers)
    html = client.get("/register").get_data(as_text=True)
    assert world.company.name in html and "Herlev KOL" in html
    assert "Offentlig forskning" in html
    assert "Public research" in client.get("/register?lang=en").get_data(as_text=True)


def test_form_finds_datasets_and_keeps_the_chosen_one(client, world, login):
    login(world.company_user)
    html = client.get(f"/requests/new?q=Albertslund&dataset={world.herlev_data.id}").get_data(
        as_text=True)
    assert "Albertslund genoptræning" in html
    assert "Herlev genetik" not in html
    assert f'name="dataset" value="{world.herlev_data.id}" checked' in html
    assert client.get("/requests/new?dataset=abc&q=" + "x" * 500).status_code == 200


# --- test courses -----------------------------------------------------------------------------

def test_application_names_the_test_course_it_serves(client, world, company_headers,
                                                      make_course, session):
    course = make_course(world.company, status="running")
    body = application(world.herlev_data, purpose="test_environment", test_course=course.id)
    response = client.post("/api/v1/access-requests", json=body, headers=company_headers)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["test_course"] == course.id
    # The course's environment is the application's: the test-environment rule is satisfied.
    assert created["test_environment"] == course.environment_id
    assert created["decision"]["outcome"] == "permit"
    assert created["permit"]["test_course"] == course.id
    stored = session.get(AccessRequest, created["id"])
    assert stored.test_course_id == course.id and stored.permit.test_course_id == course.id


COURSE_PROBLEMS = {
    "another company's course": ("rival", "agreed", 422),  # as a course that does not exist
    "declined course": ("own", "declined", 409),
    "finished course": ("own", "completed", 409),
}


@pytest.mark.parametrize(("owner", "status", "code"), COURSE_PROBLEMS.values(),
                         ids=COURSE_PROBLEMS.keys())
def test_a_course_the_company_may_not_serve_stores_nothing(client, world, company_headers,
                                                           make_course, session, owner, status,
                                                           code):
    course = make_course(world.rival if owner == "rival" else world.company, status=status)
    response = client.post("/api/v1/access-requests", headers=company_headers,
                           json=application(world.herlev_data, test_course=course.id))
    assert response.status_code == code, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert _count(session, AccessRequest) == 0
    assert _count(session, AuditEntry) == 0


@pytest.mark.parametrize("value", [424242, "abc", -3, True])
def test_unknown_or_malformed_course_is_a_422(client, world, company_headers, session, value):
    response = client.post("/api/v1/access-requests", headers=company_headers,
                           json=application(world.herlev_data, test_course=value))
    assert response.status_code == 422, response.get_json()
    assert "test_course" in {e["field"] for e in response.get_json()["errors"]}
    assert _count(session, AccessRequest) == 0


def test_course_in_another_environment_than_named_is_a_422(client, world, company_headers,
                                                           make_course, session):
    course = make_course(world.company)
    other = make_course(world.company, status="proposed")
    body = application(world.herlev_data, test_course=course.id,
                       test_environment=other.environment_id)
    response = client.post("/api/v1/access-requests", json=body, headers=company_headers)
    assert response.status_code == 422
    assert "test_course" in {e["field"] for e in response.get_json()["errors"]}
    assert _count(session, AccessRequest) == 0


def test_request_page_shows_the_test_course(client, world, company_headers, make_course,
                                            login):
    course = make_course(world.company)
    created = client.post("/api/v1/access-requests", headers=company_headers,
                          json=application(world.herlev_data, test_course=course.id)).get_json()
    login(world.company_user)
    page = client.get(f"/requests/{created['id']}").get_data(as_text=True)
    assert "Testforløb" in page and "Exoskelet i hjemmet" in page


def test_form_errors_are_danish_on_the_danish_page_and_english_on_the_api(
        client, world, login, company_headers):
    login(world.company_user)
    html = client.get("/requests/new").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "title": "", "duration_days": "36500", "test_course": "x"}
    danish = client.post("/requests/new", data=form).get_data(as_text=True)
    assert "skal udfyldes" in danish and "skal have mindst 1 element" in danish
    assert "må højst være 3650" in danish and "skal være et helt tal" in danish
    assert '<p class="field-error" id="title-error">skal udfyldes</p>' in danish
    assert '<p class="field-error" id="test_course-error">skal være et helt tal</p>' in danish
    assert "is required" not in danish
    english = client.post("/requests/new?lang=en", data=form).get_data(as_text=True)
    assert "is required" in english and "must be at most 3650" in english
    api = client.post("/api/v1/access-requests", headers=company_headers,
                      json=application(world.herlev_data, title=""))
    assert {"field": "title", "message": "is required"} in api.get_json()["errors"]


# --- paging -----------------------------------------------------------------------------------

def _apply(client, world, headers, count):
    for _ in range(count):
        response = client.post("/api/v1/access-requests", headers=headers,
                               json=application(world.herlev_data))
        assert response.status_code == 201


def test_applications_and_register_are_paged(client, world, company_headers):
    _apply(client, world, company_headers, 5)
    first = client.get("/api/v1/access-requests?per_page=2", headers=company_headers).get_json()
    last = client.get("/api/v1/access-requests?per_page=2&page=3",
                      headers=company_headers).get_json()
    assert (first["total"], first["page"], first["per_page"], len(first["items"])) == (5, 1, 2, 2)
    assert len(last["items"]) == 1
    assert first["items"][0]["id"] > first["items"][1]["id"] > last["items"][0]["id"]
    beyond = client.get("/api/v1/access-requests?page=9", headers=company_headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 5
    register = client.get("/api/v1/register?per_page=3&page=2").get_json()
    assert (register["total"], len(register["items"]), register["page"]) == (5, 2, 2)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "per_page=0",
                                   "per_page=201", "per_page=99999999999", "page=1e3"])
def test_bad_paging_is_a_422(client, world, company_headers, query):
    for path in ("/api/v1/access-requests", "/api/v1/register"):
        response = client.get(f"{path}?{query}", headers=company_headers)
        assert response.status_code == 422, (path, query)
        field = query.split("=")[0]
        assert field in {e["field"] for e in response.get_json()["errors"]}


def test_pages_show_a_pager(client, world, company_headers, login):
    _apply(client, world, company_headers, 3)
    register = client.get("/register?per_page=2").get_data(as_text=True)
    assert "Side 1 af 2 (3 i alt)" in register and 'rel="next"' in register
    assert 'rel="prev"' in client.get("/register?per_page=2&page=2").get_data(as_text=True)
    login(world.company_user)
    requests_page = client.get("/requests?per_page=1&page=2&lang=en").get_data(as_text=True)
    assert "Page 2 of 3 (3 in all)" in requests_page
    assert client.get("/register?page=0").status_code == 422


def test_form_names_the_test_course(client, world, login, session, make_course):
    course = make_course(world.company)
    login(world.company_user)
    html = client.get("/requests/new").get_data(as_text=True)
    assert '<label for="test_course">' in html
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "title": "Exoskelet", "description": "Afprøvning",
            "purpose": "public_research", "dataset": str(world.herlev_data.id),
            f"columns-{world.herlev_data.id}": ["sex"], "duration_days": "90",
            "test_course": str(course.id)}
    response = client.post("/requests/new", data=form)
    assert response.status_code == 302
    created = session.scalars(sa.select(AccessRequest)).one()
    assert created.test_course_id == course.id
    assert created.test_environment_id == course.environment_id


def test_openapi_documents_bodies_statuses_and_security_of_access(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    submit = paths["/api/v1/access-requests"]["post"]
    assert "201" in submit["responses"] and "200" not in submit["responses"]
    assert {"400", "401", "403", "413", "422"} <= set(submit["responses"])
    assert submit["requestBody"]["content"]["application/json"]["schema"]
    assert {"oauth2": ["access:request"]} in submit["security"]
    listing = paths["/api/v1/access-requests"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"page", "per_page"}
    review = paths["/api/v1/access-requests/{request_id}/review"]["post"]
    assert {"oauth2": ["access:review"]} in review["security"]
    assert paths["/api/v1/register"]["get"].get("security") in ([], None)


# --- the applicant's journey ------------------------------------------------------------------

def _token(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def test_apply_from_a_dataset_page_opens_a_form_with_it_and_its_conditions(
        client, world, login, make_dataset):
    dataset = make_dataset(world.herlev, title="Herlev astma", data_use={
        "permission": "DS", "diseases": ["J45"], "modifiers": ["NCU", "TS:12"],
        "purposes": ["public_research"]})
    login(world.company_user)
    page = client.get(f"/catalog/{dataset.id}").get_data(as_text=True)
    assert f'href="/requests/new?dataset={dataset.id}"' in page
    form = client.get(f"/requests/new?dataset={dataset.id}&q=Albertslund").get_data(as_text=True)
    assert f'name="dataset" value="{dataset.id}" checked' in form
    assert form.index("Herlev astma") < form.index("Albertslund genoptræning")
    assert "Kun forskning i bestemte sygdomme: J45" in form
    assert "Ikke til kommerciel brug" in form
    assert "Adgangen gælder højst 12 måneder" in form
    assert "Kun til formålene: Offentlig forskning" in form
    english = client.get(f"/requests/new?dataset={dataset.id}&lang=en").get_data(as_text=True)
    assert "Research on specific diseases only: J45" in english
    assert "Not for commercial use" in english


def test_a_denied_application_is_amended_and_resubmitted(client, world, company_headers, login,
                                                         session):
    denied = client.post("/api/v1/access-requests", headers=company_headers, json=application(
        world.herlev_data, purpose="insurance_credit_employment",
        title="Forsikringsanalyse")).get_json()
    assert denied["status"] == "denied"
    login(world.company_user)
    detail = client.get(f"/requests/{denied['id']}").get_data(as_text=True)
    assert f'href="/requests/new?from={denied["id"]}"' in detail and "Ret og send igen" in detail
    form = client.get(f"/requests/new?from={denied['id']}").get_data(as_text=True)
    assert 'value="Forsikringsanalyse"' in form
    assert f'name="resubmits" value="{denied["id"]}"' in form
    assert f'name="dataset" value="{world.herlev_data.id}" checked' in form
    response = client.post("/requests/new", data={
        "csrf_token": _token(form), "resubmits": str(denied["id"]), "title": "Forebyggelse",
        "description": "Forskning", "purpose": "public_research",
        "dataset": str(world.herlev_data.id), f"columns-{world.herlev_data.id}": ["sex"],
        "duration_days": "180"})
    assert response.status_code == 302
    new = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tilladelse givet" in new
    assert f'href="/requests/{denied["id"]}"' in new and "rettet udgave af" in new
    assert _count(session, AccessRequest) == 2
    assert session.get(AccessRequest, denied["id"]).status == "denied"


@pytest.mark.parametrize("value", ["abc", "0", "-1", "99999999999", "987654"])
def test_resubmitting_a_malformed_or_unknown_application_is_refused(client, world, login,
                                                                    value):
    login(world.company_user)
    response = client.get(f"/requests/new?from={value}")
    assert response.status_code in (404, 422)
    assert "Ny dataansøgning" not in response.get_data(as_text=True)


def test_only_the_applicant_resubmits_and_only_a_refused_application(
        client, world, company_headers, login, session):
    permitted = client.post("/api/v1/access-requests", headers=company_headers,
                            json=application(world.herlev_data)).get_json()
    denied = client.post("/api/v1/access-requests", headers=company_headers, json=application(
        world.herlev_data, purpose="insurance_credit_employment")).get_json()
    login(world.company_user)
    assert client.get(f"/requests/new?from={permitted['id']}").status_code == 409
    assert "Ret og send igen" not in client.get(
        f"/requests/{permitted['id']}").get_data(as_text=True)
    form = client.get("/requests/new").get_data(as_text=True)
    stolen = client.post("/requests/new", data={
        "csrf_token": _token(form), "resubmits": str(permitted["id"]), "title": "X",
        "description": "Y", "purpose": "public_research", "dataset": str(world.herlev_data.id),
        f"columns-{world.herlev_data.id}": ["sex"], "duration_days": "30"})
    assert stolen.status_code == 409
    malformed = client.post("/requests/new", data={
        "csrf_token": _token(form), "resubmits": "<script>", "title": "X", "description": "Y",
        "purpose": "public_research", "dataset": str(world.herlev_data.id),
        f"columns-{world.herlev_data.id}": ["sex"], "duration_days": "30"})
    assert malformed.status_code == 422 and "<script>" not in malformed.get_data(as_text=True)
    login(world.rival_user)
    assert client.get(f"/requests/new?from={denied['id']}").status_code == 404  # not shown to exist
    assert _count(session, AccessRequest) == 2


def test_a_permit_links_to_its_workspace_or_its_extracts(client, world, company_headers, login):
    anonymised = client.post("/api/v1/access-requests", headers=company_headers,
                             json=application(world.herlev_data)).get_json()
    pseudonymised = client.post("/api/v1/access-requests", headers=company_headers,
                                json=application(world.herlev_data, pseudonymised=True,
                                                 pseudonymisation_justification="Kobling")
                                ).get_json()
    login(world.company_user)
    page = client.get(f"/requests/{anonymised['id']}").get_data(as_text=True)
    assert f'href="/extracts#permit-{anonymised["permit"]["id"]}"' in page
    page = client.get(f"/requests/{pseudonymised['id']}").get_data(as_text=True)
    assert f'href="/workspace/{pseudonymised["permit"]["id"]}"' in page
    login(world.herlev_reviewer)
    assert "Bestil udtræk" not in client.get(
        f"/requests/{anonymised['id']}").get_data(as_text=True)


def test_the_test_course_is_picked_from_the_companys_open_courses(client, world, login,
                                                                  make_course):
    mine = make_course(world.company)
    make_course(world.rival)
    login(world.company_user)
    html = client.get("/requests/new").get_data(as_text=True)
    assert '<select id="test_course" name="test_course">' in html
    assert f'<option value="{mine.id}">Nr. {mine.id}: Exoskelet i hjemmet</option>' in html
    assert html.count("Exoskelet i hjemmet") == 1


def test_rejecting_without_a_comment_keeps_the_reviewer_on_the_case(client, world,
                                                                    company_headers, login):
    created = client.post("/api/v1/access-requests", headers=company_headers,
                          json=application(world.sensitive_data,
                                           purpose="company_research")).get_json()
    login(world.herlev_reviewer)
    detail = client.get(f"/requests/{created['id']}").get_data(as_text=True)
    response = client.post(f"/requests/{created['id']}/review",
                           data={"csrf_token": _token(detail), "decision": "reject",
                                 "comment": "  "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"<h1>{created['title']}</h1>" in page
    assert '<p class="field-error" id="comment-error">forklar ansøgeren' in page
    assert 'aria-describedby="comment-error"' in page
    assert 'value="reject" checked' in page
    english = client.post(f"/requests/{created['id']}/review?lang=en",
                          data={"csrf_token": _token(detail), "decision": "reject"})
    assert "explain the decision to the applicant" in english.get_data(as_text=True)
    cpr = client.post(f"/requests/{created['id']}/review?lang=da",
                      data={"csrf_token": _token(detail), "decision": "reject",
                            "comment": "Borger 0101001234 mangler"})
    assert cpr.status_code == 422
    page = cpr.get_data(as_text=True)
    assert "fjern CPR-numre fra teksten" in page and "0101001234" not in page
    assert "Borger [CPR] mangler" in page
    assert client.get(f"/api/v1/access-requests/{created['id']}",
                      headers=company_headers).get_json()["status"] == "review"
