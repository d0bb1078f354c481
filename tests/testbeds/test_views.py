"""The testbeds API and browser pages, as clients and people use them."""
import pytest
import sqlalchemy as sa

from marketplace.testbeds import services
from marketplace.testbeds.commands import CourseChanges, OutcomeReport
from marketplace.testbeds.models import TestCourse
from tests.testbeds.conftest import NOW
from tests.testbeds.test_services import OUTCOME, PLAN, completed_course, move, propose


def hospital_headers(world, api_headers):
    """Bearer headers of the environment's host hospital (test-host orgs hold no API scope)."""
    hospital = next(h.org for h in world.environment.hosts if h.sector == "hospital")
    return api_headers(hospital, scopes="access:review")


def test_everyone_browses_the_environments(client, world):
    body = client.get("/api/v1/test-environments").get_json()
    rehab = next(item for item in body["items"] if item["slug"] == "rehab-test")
    assert rehab["free_slots"] == 3 and rehab["capacity_per_year"] == 3
    assert {host["sector"] for host in rehab["hosts"]} == {
        "knowledge_centre", "hospital", "municipality"}
    assert rehab["contact"]["email"] == "kontakt@host.example"
    page = client.get("/test-environments")
    assert page.status_code == 200 and "Rehabilitering rehab-test" in page.get_data(as_text=True)
    english = client.get("/test-environments?lang=en").get_data(as_text=True)
    assert "Rehabilitation rehab-test" in english and 'lang="en"' in english


def test_unknown_environment_is_a_404_problem(client, world):
    response = client.get("/api/v1/test-environments/999999")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_matching_over_the_api_ranks_and_explains(client, world):
    response = client.post("/api/v1/matches", json={
        "themes": ["rehabilitation"], "target_groups": ["elderly"], "needs": ["citizens"],
        "description": "Exoskelet til gangtræning"})
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert items[0]["test_environment"]["slug"] == "rehab-test"
    assert items[0]["score"] >= items[-1]["score"]
    assert {"code", "fits", "message"} <= items[0]["reasons"][0].keys()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"themes": ["unicorns"]}, 422, "themes"),
        ({}, 422, "profile"),
        ({"description": "a" * 100_000}, 422, "description"),
        ({"trl": 42, "description": "robot"}, 422, "trl"),
    ],
)
def test_bad_match_requests_get_clear_problems(client, world, body, status, field):
    response = client.post("/api/v1/matches", json=body)
    assert response.status_code == status
    problem = response.get_json()
    assert problem["status"] == status
    assert field in {error["field"] for error in problem["errors"]}


def test_a_non_json_match_request_is_a_bad_request(client, world):
    response = client.post("/api/v1/matches", data="themes=x",
                           headers={"Content-Type": "text/plain"})
    assert response.status_code in (400, 403)  # 403 when CSRF refuses a cookie-less form post


def test_propose_accept_and_move_over_the_api(client, world, api_headers, session):
    company = api_headers(world.company_user.org, scopes="access:request")
    host = hospital_headers(world, api_headers)
    created = client.post("/api/v1/test-courses", headers=company, json={
        "test_environment_id": world.environment.id, "solution_profile_id": world.solution_id,
        **PLAN})
    assert created.status_code == 201, created.get_json()
    course_id = created.get_json()["id"]
    assert created.get_json()["status"] == "proposed"
    refused = client.patch(f"/api/v1/test-courses/{course_id}", headers=company,
                           json={"status": "agreed"})
    assert refused.status_code == 403
    accepted = client.patch(f"/api/v1/test-courses/{course_id}", headers=host,
                            json={"status": "agreed", "comment": "Velkommen"})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "agreed"
    skipped = client.patch(f"/api/v1/test-courses/{course_id}", headers=host,
                           json={"status": "evaluated"})
    assert skipped.status_code == 409
    assert client.get(f"/api/v1/test-courses/{course_id}",
                      headers=company).get_json()["status"] == "agreed"


def test_another_company_cannot_see_a_course(client, world, api_headers, session):
    course = propose(session, world)
    session.commit()
    rival = api_headers(session.get(type(world.company_user.org), world.rival_company.org_id),
                        scopes="access:request")
    assert client.get(f"/api/v1/test-courses/{course.id}", headers=rival).status_code == 404
    assert client.get("/api/v1/test-courses", headers=rival).get_json()["items"] == []


def test_anonymous_callers_cannot_list_courses(client, world):
    assert client.get("/api/v1/test-courses").status_code == 401


def test_outcomes_evidence_dossier_and_pdf_over_the_api(client, world, api_headers, session):
    course = completed_course(session, world)
    session.commit()
    host = hospital_headers(world, api_headers)
    assert client.post(f"/api/v1/test-courses/{course.id}/outcomes", headers=host,
                       json=OUTCOME).status_code == 201
    uploaded = client.post(f"/api/v1/test-courses/{course.id}/evidence?filename=data.csv",
                           headers={**host, "Content-Type": "text/csv"},
                           data=b"dag,udskrevet\n1,10\n2,7\n")
    assert uploaded.status_code == 201, uploaded.get_json()
    download = client.get(uploaded.get_json()["url"], headers=host)
    assert download.data == b"dag,udskrevet\n1,10\n2,7\n"
    client.patch(f"/api/v1/test-courses/{course.id}", headers=host,
                 json={"yearly_cost_dkk": 60_000, "status": "evaluated"})
    dossier = client.get(f"/api/v1/test-courses/{course.id}/dossier", headers=host).get_json()
    assert dossier["within_direct_purchase"] is False
    assert [step["status"] for step in dossier["tested"]["timeline"]] == [
        "proposed", "agreed", "running", "completed", "evaluated"]
    assert dossier["effects"][2]["outcomes"][0]["change"] == pytest.approx(0.3)
    assert [e["dimension"] for e in dossier["effects"]] == [
        "treatment_errors", "prevented_admissions", "faster_return_home", "own_resources"]
    pdf = client.get(f"/api/v1/test-courses/{course.id}/dossier.pdf", headers=host)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_kpis_are_public_json(client, world, session):
    completed_course(session, world)
    session.commit()
    body = client.get("/api/v1/kpis").get_json()
    assert body["test_courses"] == {**body["test_courses"], "value": 1, "target": 100}
    assert body["municipalities_involved"]["total"] == 46
    assert body["hospitals_involved"]["involved"] == 1
    assert body["foreign_companies"]["target"] == 4
    assert body["innovative_procurements"]["target"] == 8
    assert set(body["datasets_by_level"]) == {"national", "regional", "municipal"}
    page = client.get("/kpis").get_data(as_text=True)
    assert "<svg" in page and "Offentlig-private testforløb" in page


def test_a_company_matches_and_proposes_in_the_browser(client, world, login, session):
    login(world.company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    page = client.post("/matches", data={
        "csrf_token": token, "name": "Exo", "description": "Exoskeleton for gait training",
        "themes": ["rehabilitation"]})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Foreslå testforløb i Rehabilitering rehab-test" in html
    solution = services.list_solution_profiles(session, actor=world.company)[0]
    proposed = client.post("/test-courses/new", data={
        "csrf_token": token, "environment": world.environment.id, "solution": solution.id,
        "title": "Exo-test"})
    assert proposed.status_code == 303
    courses = client.get("/test-courses").get_data(as_text=True)
    assert "Exo-test" in courses


def test_the_browser_form_refuses_an_empty_profile(client, world, login):
    login(world.company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    page = client.post("/matches", data={"csrf_token": token, "description": " "})
    assert page.status_code == 422
    assert "Ret venligst følgende" in page.get_data(as_text=True)
    assert "beskriv løsningen" in page.get_data(as_text=True)
    english = client.post("/matches?lang=en", data={"csrf_token": token, "description": " "})
    assert "describe the solution" in english.get_data(as_text=True)


def test_a_host_cannot_edit_someone_elses_environment_page(client, world, login, session):
    login(world.host_user)
    assert client.get(f"/test-environments/{world.other_environment.id}/edit").status_code == 403
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    response = client.post(f"/test-environments/{world.environment.id}/edit", data={
        "csrf_token": token, "name_da": "Nyt navn", "themes": ["astrology"]})
    assert response.status_code == 422
    session.refresh(world.environment)
    assert world.environment.name_da == "Rehabilitering rehab-test"


def test_moving_backwards_in_the_browser_shows_an_error_and_changes_nothing(
        client, world, login, session):
    course = propose(session, world)
    move(session, world, course, "agreed", "running")
    session.commit()
    login(world.host_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    response = client.post(f"/test-courses/{course.id}/status",
                           data={"csrf_token": token, "status": "agreed"},
                           follow_redirects=True)
    assert "Ikke gemt" in response.get_data(as_text=True)
    session.refresh(course)
    assert course.status == "running"


def test_dossier_page_is_printable(client, world, login, session):
    course = completed_course(session, world)
    services.change_test_course(session, actor=world.company, course_id=course.id, now=NOW,
                                changes=CourseChanges(yearly_cost_dkk=30_000))
    session.commit()
    login(world.buyer_user)
    html = client.get(f"/test-courses/{course.id}/dossier").get_data(as_text=True)
    assert "Under kommunernes direkte indkøbsgrænse" in html
    assert "Mangler, før dossieret er klar til indkøb" in html
    assert "Input til værdibaseret indkøb" in html
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    client.post(f"/test-courses/{course.id}/procurement", data={"csrf_token": token})
    session.refresh(course)
    assert course.procurement is not None


def test_oversized_and_hostile_evidence_uploads_are_refused(client, world, api_headers,
                                                           session, data_dir):
    course = completed_course(session, world)
    session.commit()
    host = hospital_headers(world, api_headers)
    url = f"/api/v1/test-courses/{course.id}/evidence?filename=big.pdf"
    big = client.post(url, headers={**host, "Content-Type": "application/pdf"},
                      data=b"%PDF-" + b"0" * services.EVIDENCE_MAX_BYTES)
    assert big.status_code == 413
    program = client.post(url, headers={**host, "Content-Type": "application/octet-stream"},
                          data=b"MZ\x90\x00" + b"\x00" * 64)
    assert program.status_code == 422
    assert "modtages" in program.get_json()["errors"][0]["message"]
    english = client.post(url + "&lang=en",
                          headers={**host, "Content-Type": "application/octet-stream"},
                          data=b"MZ\x90\x00" + b"\x00" * 64)
    assert "accepted" in english.get_json()["errors"][0]["message"]
    assert client.get(f"/api/v1/test-courses/{course.id}", headers=host
                      ).get_json()["evidence"] == []
    assert not (data_dir / "evidence").exists()


def test_hosts_patch_their_environment_over_the_api(client, world, api_headers, session):
    host = hospital_headers(world, api_headers)
    changed = client.patch(f"/api/v1/test-environments/{world.environment.id}", headers=host,
                           json={"capacity_per_year": 20})
    assert changed.status_code == 200 and changed.get_json()["capacity_per_year"] == 20
    refused = client.patch(f"/api/v1/test-environments/{world.other_environment.id}",
                           headers=host, json={"capacity_per_year": 0})
    assert refused.status_code == 403
    assert client.get(f"/api/v1/test-environments/{world.other_environment.id}"
                      ).get_json()["capacity_per_year"] == 3


def test_a_saved_profile_is_matched_by_id_only_for_its_company(client, world, api_headers,
                                                               session):
    own = api_headers(world.company_user.org, scopes="access:request")
    response = client.post("/api/v1/matches", headers=own,
                           json={"solution_profile_id": world.solution_id})
    assert response.status_code == 200
    assert response.get_json()["items"][0]["test_environment"]["slug"] == "rehab-test"
    rival_org = session.get(type(world.company_user.org), world.rival_company.org_id)
    rival = api_headers(rival_org, scopes="access:request")
    assert client.post("/api/v1/matches", headers=rival,
                       json={"solution_profile_id": world.solution_id}).status_code == 404


def test_course_and_dossier_pages_in_english(client, world, login, session):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    session.commit()
    login(world.host_user)
    html = client.get(f"/test-courses/{course.id}?lang=en").get_data(as_text=True)
    assert "Mark as evaluated" in html and "Faster return to own home and life" in html
    dossier = client.get(f"/test-courses/{course.id}/dossier?lang=en").get_data(as_text=True)
    assert "Inputs to value-based procurement" in dossier and "improvement +30%" in dossier
    pdf = client.get(f"/test-courses/{course.id}/dossier.pdf?lang=en")
    assert pdf.data.startswith(b"%PDF")


def test_environments_filter_by_theme(client, world):
    rehab = client.get("/api/v1/test-environments?theme=rehabilitation").get_json()["items"]
    assert {item["slug"] for item in rehab} == {"rehab-test", "other-test"}
    assert client.get("/api/v1/test-environments?theme=health_lighting").get_json() == {
        "items": []}
    assert client.get("/api/v1/test-environments?theme=astrology").status_code == 422
    assert client.get("/test-environments?theme=astrology").status_code == 422


def test_a_host_edits_its_environment_in_the_browser(client, world, login, session):
    login(world.host_user)
    form = client.get(f"/test-environments/{world.environment.id}/edit")
    assert form.status_code == 200 and "Gem ændringer" in form.get_data(as_text=True)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    response = client.post(f"/test-environments/{world.environment.id}/edit", data={
        "csrf_token": token, "name_da": "Rehabilitering Vest", "themes": ["rehabilitation"],
        "trl_min": "5", "trl_max": "9", "capacity_per_year": "12"})
    assert response.status_code == 303
    session.refresh(world.environment)
    assert (world.environment.name_da, world.environment.capacity_per_year) == (
        "Rehabilitering Vest", 12)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([], 422),
        ({"status": 5}, 422),
        ({"status": "teleported"}, 422),
        ({"status": "completed"}, 409),
        ({"yearly_cost_dkk": "cheap"}, 422),
        ({"comment": "x" * 100_000, "status": "agreed"}, 422),
        ({"environment_id": 2}, 422),
    ],
)
def test_bad_course_changes_over_the_api_change_nothing(client, world, api_headers, session,
                                                        body, status):
    course = propose(session, world)
    session.commit()
    host = hospital_headers(world, api_headers)
    response = client.patch(f"/api/v1/test-courses/{course.id}", headers=host, json=body)
    assert response.status_code == status
    after = client.get(f"/api/v1/test-courses/{course.id}", headers=host).get_json()
    assert after["status"] == "proposed" and after["yearly_cost_dkk"] is None
    assert len(after["history"]) == 1


def test_matching_a_saved_profile_needs_a_sign_in(client, world):
    response = client.post("/api/v1/matches", json={"solution_profile_id": world.solution_id})
    assert response.status_code == 401


def test_a_saved_profile_reopens_with_its_matches(client, world, login):
    login(world.company_user)
    html = client.get(f"/matches?solution={world.solution_id}").get_data(as_text=True)
    assert 'value="StrideAssist"' in html
    assert "Foreslå testforløb i Rehabilitering rehab-test" in html
    login(world.host_user)
    assert client.get(f"/matches?solution={world.solution_id}").status_code == 404


def test_course_forms_refuse_bad_input_and_store_nothing(client, world, login, session):
    login(world.company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    missing = client.post("/test-courses/new", data={"csrf_token": token, "environment": "x",
                                                      "solution": world.solution_id})
    assert missing.status_code == 404
    empty = client.post("/test-courses/new", data={
        "csrf_token": token, "environment": world.environment.id,
        "solution": world.solution_id, "title": "  ", "planned_start": "soon"})
    assert empty.status_code == 422
    text = empty.get_data(as_text=True)
    assert "title" in text and "planned_start" in text
    assert services.list_test_courses(session, actor=world.company) == []


def test_course_action_forms_explain_refusals(client, world, login, session):
    course = completed_course(session, world)
    session.commit()
    login(world.company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    bad_outcome = client.post(f"/test-courses/{course.id}/outcomes", data={
        "csrf_token": token, "dimension": "treatment_errors", "metric": "Fejl",
        "result": "mange"}, follow_redirects=True)
    assert "Ikke gemt" in bad_outcome.get_data(as_text=True)
    no_file = client.post(f"/test-courses/{course.id}/evidence", data={"csrf_token": token},
                          follow_redirects=True)
    assert "Vælg en fil." in no_file.get_data(as_text=True)
    refused = client.post(f"/test-courses/{course.id}/procurement", data={"csrf_token": token})
    assert refused.status_code == 403
    session.refresh(course)
    assert course.outcomes == [] and course.evidence == [] and course.procurement is None


def test_forms_without_a_csrf_token_are_refused(client, world, login, session):
    course = propose(session, world)
    session.commit()
    login(world.host_user)
    response = client.post(f"/test-courses/{course.id}/status", data={"status": "agreed"})
    assert response.status_code == 403
    session.refresh(course)
    assert course.status == "proposed"


def test_a_company_updates_its_saved_profile_from_the_match_page(client, world, login, session):
    login(world.company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    page = client.post("/matches", data={
        "csrf_token": token, "solution": world.solution_id, "name": "StrideAssist 2",
        "description": "Exoskeleton", "trl": "8"})
    assert page.status_code == 200
    profiles = services.list_solution_profiles(session, actor=world.company)
    assert [(p.id, p.name, p.trl) for p in profiles] == [(world.solution_id, "StrideAssist 2", 8)]
    login(world.rival_company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    hijack = client.post("/matches", data={"csrf_token": token, "solution": world.solution_id,
                                           "description": "mine now"})
    assert hijack.status_code == 404
    session.refresh(profiles[0])
    assert profiles[0].description == "Exoskeleton"


HOSTILE_OUTCOMES = [
    {**OUTCOME, "dimension": ["faster_return_home"]},
    {**OUTCOME, "result": "NaN"},
    {**OUTCOME, "result": 1e300},
    {**OUTCOME, "metric": "a\x00b"},
    {**OUTCOME, "dimension": "happiness"},
    {**OUTCOME, "note": "\ud800"},
]


@pytest.mark.parametrize("body", HOSTILE_OUTCOMES)
def test_hostile_outcomes_are_a_422_and_record_nothing(client, world, api_headers, session,
                                                       body):
    course = completed_course(session, world)
    session.commit()
    host = hospital_headers(world, api_headers)
    response = client.post(f"/api/v1/test-courses/{course.id}/outcomes", headers=host,
                           json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]
    assert client.get(f"/api/v1/test-courses/{course.id}",
                      headers=host).get_json()["outcomes"] == []


@pytest.mark.parametrize("path", ["/api/v1/test-environments/2147483648",
                                  "/api/v1/test-courses/99999999999",
                                  "/api/v1/evidence/2147483648",
                                  "/api/v1/solution-profiles/2147483648"])
def test_ids_beyond_32_bits_are_a_422(client, world, api_headers, path):
    response = client.get(path, headers=hospital_headers(world, api_headers))
    assert response.status_code == 422, response.get_json()


@pytest.mark.parametrize("body", ['{"themes":' * 1000 + "[]" + "}" * 1000, "[" * 5000,
                                  '{"themes": [1, 2]}', '{"trl": 2147483648}'])
def test_hostile_match_bodies_are_a_4xx(client, world, body):
    response = client.post("/api/v1/matches", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/problem+json"


def test_an_environment_without_capacity_cannot_agree_a_course(client, world, api_headers,
                                                               session):
    world.environment.capacity_per_year = 0
    course = propose(session, world)
    session.commit()
    response = client.patch(f"/api/v1/test-courses/{course.id}",
                            headers=hospital_headers(world, api_headers),
                            json={"status": "agreed"})
    assert response.status_code == 409, response.get_json()
    assert response.mimetype == "application/problem+json"


def test_an_environment_added_without_capacity_has_no_free_slots(client, world, make_org,
                                                                  api_headers):
    operator = api_headers(make_org(kind="operator"), scopes="catalog:write")
    hospital = next(h.org for h in world.environment.hosts if h.sector == "hospital")
    created = client.post("/api/v1/test-environments", headers=operator, json={
        "slug": "lys-lab", "name_da": "Sundhedsbelysning", "themes": ["rehabilitation"],
        "hosts": [{"org": hospital.slug, "sector": "hospital"}]})
    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["capacity_per_year"], created.get_json()["free_slots"]) == (0, 0)
    matches = client.post("/api/v1/matches", json={"themes": ["rehabilitation"]}).get_json()
    added = next(m for m in matches["items"] if m["test_environment"]["slug"] == "lys-lab")
    assert any(r["code"] == "capacity" and not r["fits"] for r in added["reasons"])


@pytest.mark.parametrize("body", [
    {"slug": "x-lab", "name_da": "X", "hosts": {"org": "a", "sector": "hospital"}},
    {"slug": "x-lab", "name_da": "X", "hosts": []},
    {"slug": "x\x00lab", "name_da": "X", "hosts": [{"org": "a", "sector": "hospital"}]},
    {"slug": "x-lab", "name_da": "X", "hosts": [{"org": "a", "sector": "hospital"}],
     "capacity_per_year": 2**31},
])
def test_hostile_environments_are_a_4xx(client, world, make_org, api_headers, body):
    operator = api_headers(make_org(kind="operator"), scopes="catalog:write")
    response = client.post("/api/v1/test-environments", headers=operator, json=body)
    assert 400 <= response.status_code < 500, response.get_json()
    assert client.get("/api/v1/test-environments").get_json()["items"][-1]["slug"] != "x-lab"


def test_openapi_documents_testbeds_and_the_key_figures(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    outcome = paths["/api/v1/test-courses/{course_id}/outcomes"]["post"]
    schema = outcome["requestBody"]["content"]["application/json"]["schema"]
    assert "201" in outcome["responses"] and schema
    evidence = paths["/api/v1/test-courses/{course_id}/evidence"]["post"]
    assert "multipart/form-data" in evidence["requestBody"]["content"]
    assert "/api/v1/kpis" in paths and "/api/v1/matches" in paths


def test_key_figures_keep_their_json_fields(client, world):
    body = client.get("/api/v1/kpis").get_json()
    assert {"as_of", "test_courses_by_status", "datasets_by_level",
            "permits_by_level"} <= set(body)
    assert client.get("/kpis").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/test-courses?status=%00",
                                  "/api/v1/test-environments?theme=a%00"])
def test_nul_in_a_query_is_a_422(client, world, api_headers, path):
    response = client.get(path, headers=hospital_headers(world, api_headers))
    assert response.status_code == 422, response.get_json()


def test_the_company_sees_no_evaluate_button_and_can_withdraw(client, world, login, session):
    proposed = propose(session, world, world.other_environment)
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.company, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    session.commit()
    login(world.company_user)
    assert "Markér som evalueret" not in client.get(
        f"/test-courses/{course.id}").get_data(as_text=True)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    refused = client.post(f"/test-courses/{course.id}/status",
                          data={"csrf_token": token, "status": "evaluated"})
    assert refused.status_code == 403
    page = client.get(f"/test-courses/{proposed.id}").get_data(as_text=True)
    assert "Træk forslaget tilbage" in page
    withdrawn = client.post(f"/test-courses/{proposed.id}/status", follow_redirects=True,
                            data={"csrf_token": token, "status": "withdrawn"})
    assert "Trukket tilbage" in withdrawn.get_data(as_text=True)
    session.refresh(proposed)
    session.refresh(course)
    assert (proposed.status, course.status) == ("withdrawn", "completed")


def test_a_host_corrects_an_evaluated_outcome_in_the_browser(client, world, login, session):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    move(session, world, course, "evaluated")
    session.commit()
    login(world.host_user)
    page = client.get(f"/test-courses/{course.id}").get_data(as_text=True)
    assert "Ret resultatet for Hurtigere tilbage til eget hjem og liv" in page
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    form = {"csrf_token": token, "dimension": OUTCOME["dimension"], "metric": "Dage",
            "baseline": "10", "result": "7,5", "better": "lower"}
    no_reason = client.post(f"/test-courses/{course.id}/outcomes", data=form,
                            follow_redirects=True)
    assert "Ikke gemt" in no_reason.get_data(as_text=True)
    session.refresh(course)
    assert course.outcomes[0].result == 7
    fixed = client.post(f"/test-courses/{course.id}/outcomes", follow_redirects=True,
                        data={**form, "reason": "Halve dage var rundet ned"})
    html = fixed.get_data(as_text=True)
    assert "Rettelser" in html and "Halve dage var rundet ned" in html
    assert "Vært: Hurtigere tilbage til eget hjem og liv" in html
    assert "fra 10 → 7 til 10 → 7.5" in html
    session.refresh(course)
    assert course.outcomes[0].result == 7.5


@pytest.mark.parametrize(("form", "field", "english"), [
    ({"themes": ["astrology"]}, "themes", "contains codes that are not in the vocabulary"),
    ({"contact_email": "nobody"}, "contact_email", "must be an e-mail address"),
    ({"trl_min": "7", "trl_max": "3"}, "trl_max", "must not be below trl_min"),
    ({"capacity_per_year": "many"}, "capacity_per_year", ""),
])
def test_the_environment_form_names_each_bad_field_in_the_readers_language(
        client, world, login, session, form, field, english):
    login(world.host_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    page = client.post(f"/test-environments/{world.environment.id}/edit?lang=en",
                       data={"csrf_token": token, "name_da": "Nyt navn", **form})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert field in html and english in html
    session.refresh(world.environment)
    assert world.environment.name_da == "Rehabilitering rehab-test"


def test_a_course_form_with_an_impossible_plan_is_refused_and_stores_nothing(
        client, world, login, session):
    login(world.company_user)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    page = client.post("/test-courses/new", data={
        "csrf_token": token, "environment": world.environment.id,
        "solution": world.solution_id, "title": "Forløb", "planned_start": "2026-12-01",
        "planned_end": "2026-01-01", "participants_planned": "ti"})
    assert page.status_code == 422
    assert "planned_end" in page.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(TestCourse)) == 0
