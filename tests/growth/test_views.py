"""The growth pipeline's API and pages: the whole path, and every refusal changes nothing."""
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from marketplace.access.models import AccessRequest, Permit
from marketplace.audit import AuditEntry
from marketplace.growth.models import Opportunity
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput

SCORES = {"treatment_errors": 3, "prevented_admissions": 4, "need_volume": 4,
          "company_readiness": 7}
MUST = {"public_need_owner": True, "lawful_purpose": True, "regulatory_path": True,
        "data_protection": True}


def audit_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))


def register(client, headers, **extra):
    body = {"title": "Hjemmemonitorering af KOL", "description": "Færre genindlæggelser",
            "need_owner": "albertslund", "companies": ["pulmo"], "themes": ["telemedicine"],
            **extra}
    response = client.post("/api/v1/opportunities", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def recommend(client, headers, opportunity_id, to_stage, **extra):
    return client.post(f"/api/v1/opportunities/{opportunity_id}/recommendations",
                       json={"to_stage": to_stage, "scores": SCORES, "must_meet": MUST,
                             "text": "Klar til næste fase", **extra}, headers=headers)


def decide(client, headers, opportunity_id, to_stage, decision="go"):
    return client.post(f"/api/v1/opportunities/{opportunity_id}/gate-decisions",
                       json={"to_stage": to_stage, "decision": decision,
                             "minutes": "Styregruppen godkendte."}, headers=headers)


def advance(client, as_user, growth, opportunity_id, to_stage):
    response = recommend(client, as_user(growth.secretariat), opportunity_id, to_stage)
    assert response.status_code == 201, response.get_json()
    response = decide(client, as_user(growth.steering), opportunity_id, to_stage)
    assert response.status_code == 201, response.get_json()


def test_register_recommend_decide_and_read(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    assert created["stage"] == "bobler"
    assert created["need_owner"]["slug"] == "albertslund"
    assert created["companies"] == ["pulmo"]
    rec = recommend(client, as_user(growth.secretariat), created["id"], "identifikation",
                    reasons={"need_volume": "Alle kommuner har KOL-patienter"})
    assert rec.status_code == 201
    assert rec.get_json()["model_version"] == "2026.1"
    assert rec.get_json()["scores"]["need_volume"]["reason"].startswith("Alle")
    decision = decide(client, as_user(growth.steering), created["id"], "identifikation")
    assert decision.status_code == 201
    shown = client.get(f"/api/v1/opportunities/{created['id']}").get_json()
    assert shown["stage"] == "identifikation"
    assert shown["scores"]["total"] > 0
    assert [entry["kind"] for entry in shown["history"]] == ["registered", "recommendation",
                                                             "decision"]
    actions = session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.subject_type == "opportunity",
        AuditEntry.subject_id == str(created["id"]))).all()
    assert actions == ["opportunity.registered", "gate.recommended", "gate.decided"]


def test_skipped_stage_is_409_in_the_callers_language(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    headers = as_user(growth.secretariat)
    before = audit_count(session)
    response = recommend(client, headers, created["id"], "kvalificering")
    assert response.status_code == 409
    assert "springes over" in response.get_json()["detail"]
    response = client.post(f"/api/v1/opportunities/{created['id']}/recommendations?lang=en",
                           json={"to_stage": "kvalificering", "text": "x"}, headers=headers)
    assert response.status_code == 409
    assert "cannot be skipped" in response.get_json()["detail"]
    assert audit_count(session) == before


def test_decision_without_recommendation_is_409(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    before = audit_count(session)
    response = decide(client, as_user(growth.steering), created["id"], "identifikation")
    assert response.status_code == 409
    assert "indstilling" in response.get_json()["detail"]
    assert session.get(Opportunity, created["id"]).stage == "bobler"
    assert audit_count(session) == before


def test_go_that_skips_a_stage_is_409(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    recommend(client, as_user(growth.secretariat), created["id"], "identifikation")
    response = decide(client, as_user(growth.steering), created["id"], "kvalificering")
    assert response.status_code == 409
    assert session.get(Opportunity, created["id"]).stage == "bobler"


def test_score_outside_the_scale_is_422_naming_the_field(client, session, growth,
                                                         as_user) -> None:
    created = register(client, as_user(growth.company_user))
    before = audit_count(session)
    response = recommend(client, as_user(growth.secretariat), created["id"], "identifikation",
                         scores={"treatment_errors": 9})
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "scores.treatment_errors", "message": "skal ligge på skalaen 0–5"}]
    assert audit_count(session) == before


def test_a_company_cannot_decide_a_gate(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    recommend(client, as_user(growth.secretariat), created["id"], "identifikation")
    response = decide(client, as_user(growth.company_user), created["id"], "identifikation")
    assert response.status_code == 403
    assert session.get(Opportunity, created["id"]).stage == "bobler"
    response = recommend(client, as_user(growth.company_user), created["id"], "identifikation")
    assert response.status_code == 403


def test_the_secretariat_decides_where_the_model_says_so(client, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    headers = as_user(growth.secretariat)
    recommend(client, headers, created["id"], "identifikation")
    assert decide(client, headers, created["id"], "identifikation").status_code == 201
    recommend(client, headers, created["id"], "kvalificering")
    assert decide(client, headers, created["id"], "kvalificering").status_code == 403


def test_a_company_cannot_edit_another_organisations_opportunity(client, session, growth,
                                                                  as_user) -> None:
    created = register(client, as_user(growth.company_user))
    response = client.patch(f"/api/v1/opportunities/{created['id']}", json={"title": "Mit"},
                            headers=as_user(growth.rival_user))
    assert response.status_code == 403
    assert session.get(Opportunity, created["id"]).title == "Hjemmemonitorering af KOL"
    response = client.patch(f"/api/v1/opportunities/{created['id']}", json={"title": "Ny"},
                            headers=as_user(growth.company_user))
    assert response.status_code == 200 and response.get_json()["title"] == "Ny"


def test_hold_then_revive_with_a_reason(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    recommend(client, as_user(growth.secretariat), created["id"], "parkeret")
    assert decide(client, as_user(growth.steering), created["id"], "parkeret",
                  "hold").status_code == 201
    assert session.get(Opportunity, created["id"]).stage == "parkeret"
    headers = as_user(growth.steering)
    missing = client.post(f"/api/v1/opportunities/{created['id']}/revive", json={},
                          headers=headers)
    assert missing.status_code == 422
    revived = client.post(f"/api/v1/opportunities/{created['id']}/revive",
                          json={"reason": "Ny finansiering"}, headers=headers)
    assert revived.status_code == 201
    session.expire_all()
    assert session.get(Opportunity, created["id"]).stage == "bobler"
    again = client.post(f"/api/v1/opportunities/{created['id']}/revive",
                        json={"reason": "igen"}, headers=headers)
    assert again.status_code == 409


def _to_execution(client, as_user, growth, opportunity_id):
    for stage in ("identifikation", "kvalificering", "koncept_og_plan"):
        advance(client, as_user, growth, opportunity_id, stage)
    plan = client.put(f"/api/v1/opportunities/{opportunity_id}/plan", json={
        "kpis": [{"dimension": "prevented_admissions", "baseline": 30, "target": 20,
                  "unit": "%"}], "tracks": ["procurement"]}, headers=as_user(growth.secretariat))
    assert plan.status_code == 200, plan.get_json()
    advance(client, as_user, growth, opportunity_id, "eksekvering")


def test_execution_needs_a_plan(client, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    for stage in ("identifikation", "kvalificering", "koncept_og_plan"):
        advance(client, as_user, growth, created["id"], stage)
    recommend(client, as_user(growth.secretariat), created["id"], "eksekvering")
    response = decide(client, as_user(growth.steering), created["id"], "eksekvering")
    assert response.status_code == 409
    assert "Koncept og plan" in response.get_json()["detail"]


def test_procurement_case_from_execution_to_pdf(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    _to_execution(client, as_user, growth, created["id"])
    headers = as_user(growth.municipality_admin)
    response = client.post(f"/api/v1/opportunities/{created['id']}/procurement-case",
                           json={"yearly_cost_dkk": 45_000}, headers=headers)
    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert case["route"] == "direct_purchase"
    assert [s["key"] for s in case["steps"]] == ["need", "value", "market", "investment",
                                                 "procedure", "implementation"]
    step = client.put(f"/api/v1/procurement-cases/{case['id']}/steps/investment",
                      json={"fields": {"yearly_cost_dkk": 80_000, "volume": 100,
                                       "unit_saving_dkk": 2_000, "effect_percent": 30}},
                      headers=headers)
    assert step.status_code == 200
    assert step.get_json()["route"] == "tender"
    assert step.get_json()["business_case"]["yearly_benefit_dkk"] == 60_000
    history = client.get(f"/api/v1/opportunities/{created['id']}").get_json()["history"]
    kinds = [entry["kind"] for entry in history]
    assert kinds.index("opportunity.planned") < kinds.index("procurement_case.opened")
    assert kinds[-1] == "procurement_case.step"
    assert "Mål og spor blev sat" in client.get(f"/opportunities/{created['id']}").get_data(
        as_text=True)
    pdf = client.get(f"/api/v1/procurement-cases/{case['id']}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    page = client.get(f"/procurement-cases/{case['id']}")
    assert page.status_code == 200
    assert "Udbud efter bedste forhold" in page.get_data(as_text=True)
    rival = client.put(f"/api/v1/procurement-cases/{case['id']}/steps/need",
                       json={"fields": {"need": "x"}}, headers=as_user(growth.rival_user))
    assert rival.status_code == 404  # as a case that does not exist


def test_procurement_case_before_execution_is_409(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    before = audit_count(session)
    response = client.post(f"/api/v1/opportunities/{created['id']}/procurement-case",
                           json={"yearly_cost_dkk": 45_000},
                           headers=as_user(growth.municipality_admin))
    assert response.status_code == 409
    assert "eksekvering" in response.get_json()["detail"]
    assert audit_count(session) == before


@pytest.mark.parametrize("amount", [-1, 10**10, "mange"])
def test_negative_or_absurd_amounts_are_422(client, growth, as_user, amount) -> None:
    created = register(client, as_user(growth.company_user))
    response = client.post(f"/api/v1/opportunities/{created['id']}/procurement-case",
                           json={"yearly_cost_dkk": amount},
                           headers=as_user(growth.municipality_admin))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "yearly_cost_dkk"


def _clinical_body(**extra):
    return {"title": "AI-triage af lungebilleder", "department": "herlev",
            "funding_dkk": 3_500_000, "start": "2025-01-01", "end": "2027-12-31",
            "ethics_approval": "H-24012345", "company_partners": ["pulmo"],
            "outcomes": [{"dimension": "treatment_errors", "metric": "oversete fund",
                          "baseline": 12, "result": 7, "unit": "%"}], **extra}


def test_clinical_project_enters_at_kvalificering_with_evidence(client, growth,
                                                                as_user) -> None:
    response = client.post("/api/v1/clinical-projects", json=_clinical_body(),
                           headers=as_user(growth.hospital_admin))
    assert response.status_code == 201, response.get_json()
    opportunity = client.get(f"/api/v1/opportunities/{response.get_json()['opportunity_id']}"
                             ).get_json()
    assert opportunity["stage"] == "kvalificering"
    assert opportunity["origin"] == "clinical_project"
    assert opportunity["evidence"][0]["source"] == "clinical_project"
    assert opportunity["evidence"][0]["provenance"]["ethics_approval"] == "H-24012345"


@pytest.mark.parametrize("change, status", [
    ({"funding_dkk": -5}, 422),
    ({"funding_dkk": 10**12}, 422),
    ({"end": "2024-01-01"}, 422),
    ({"department": "pulmo"}, 422),
    ({"permit_ids": [2**31]}, 422),
    ({"permit_ids": [999_999]}, 422),
])
def test_bad_clinical_projects_are_refused(client, session, growth, as_user, change,
                                           status) -> None:
    headers = as_user(growth.hospital_admin)
    before = session.scalar(sa.select(sa.func.count()).select_from(Opportunity))
    response = client.post("/api/v1/clinical-projects", json=_clinical_body(**change),
                           headers=headers)
    assert response.status_code == status, response.get_json()
    assert session.scalar(sa.select(sa.func.count()).select_from(Opportunity)) == before


def test_a_company_cannot_register_a_clinical_project(client, growth, as_user) -> None:
    response = client.post("/api/v1/clinical-projects", json=_clinical_body(),
                           headers=as_user(growth.company_user))
    assert response.status_code == 403


def _released_output(session, company, *, status="released") -> int:
    """A workspace output of `company` (the workspace domain releases them; here a row)."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    request = AccessRequest(company_org_id=company.id, submitted_by="x", title="Analyse",
                            description="d", purpose="research", duration_days=30,
                            status="permitted", created_at=now)
    session.add(request)
    session.flush()
    permit = Permit(access_request_id=request.id, company_org_id=company.id,
                    purpose="research", datasets=[], policy_version="test", approved_at=now,
                    valid_until=datetime(2027, 11, 1, tzinfo=UTC))
    session.add(permit)
    session.flush()
    job = WorkspaceJob(permit_id=permit.id, company_org_id=company.id, name="analyse",
                       script="print(1)", script_sha256="0" * 64, submitted_by="x",
                       status="succeeded", created_at=now)
    session.add(job)
    session.flush()
    output = WorkspaceOutput(job_id=job.id, permit_id=permit.id, name="tabel.csv",
                             byte_size=10, sha256="1" * 64, media_type="text/csv",
                             status=status, holder_org_ids=[], created_at=now,
                             released_at=now if status == "released" else None)
    session.add(output)
    session.commit()
    return output.id


def test_evidence_from_released_outputs_of_the_same_company_only(client, session, growth,
                                                                 as_user) -> None:
    created = register(client, as_user(growth.company_user))
    own = _released_output(session, growth.company)
    pending = _released_output(session, growth.company, status="pending_review")
    foreign = _released_output(session, growth.rival)
    headers = as_user(growth.company_user)
    url = f"/api/v1/opportunities/{created['id']}/evidence"
    before = audit_count(session)
    response = client.post(url, json={"source": "output", "id": foreign}, headers=headers)
    # Answered as an output that does not exist: another's id does not reveal it exists.
    assert response.status_code == 422
    assert response.get_json() == client.post(url, json={"source": "output", "id": 2**30},
                                              headers=headers).get_json() | {
        "detail": response.get_json()["detail"], "errors": response.get_json()["errors"]}
    assert "findes ikke" in response.get_json()["errors"][0]["message"]
    assert client.post(url, json={"source": "output", "id": pending},
                       headers=headers).status_code == 409
    assert audit_count(session) == before
    linked = client.post(url, json={"source": "output", "id": own}, headers=headers)
    assert linked.status_code == 201
    assert linked.get_json()["provenance"]["sha256"] == "1" * 64
    again = client.post(url, json={"source": "output", "id": own}, headers=headers)
    assert again.status_code == 409


@pytest.mark.parametrize("body", [
    {"source": "output", "id": 2**31},
    {"source": "rumours", "id": 1},
    {"source": "test_course", "id": 0},
])
def test_malformed_evidence_is_422(client, growth, as_user, body) -> None:
    created = register(client, as_user(growth.company_user))
    response = client.post(f"/api/v1/opportunities/{created['id']}/evidence", json=body,
                           headers=as_user(growth.company_user))
    assert response.status_code == 422


def test_unknown_evidence_of_every_source_is_422(client, growth,
                                                                    as_user) -> None:
    created = register(client, as_user(growth.company_user))
    headers = as_user(growth.company_user)
    for source in ("test_course", "clinical_project", "output", "statistics"):
        response = client.post(f"/api/v1/opportunities/{created['id']}/evidence",
                               json={"source": source, "id": 424242}, headers=headers)
        assert response.status_code == 422, (source, response.get_json())


def test_ids_at_two_to_the_31_are_422(client, growth, as_user) -> None:
    register(client, as_user(growth.company_user))
    assert client.get(f"/api/v1/opportunities/{2**31}").status_code == 422
    assert client.get("/api/v1/opportunities?stage=heaven").status_code == 422
    listed = client.get("/api/v1/opportunities?stage=bobler&per_page=1").get_json()
    assert listed["total"] == 1 and listed["items"][0]["stage"] == "bobler"
    assert client.get(f"/api/v1/procurement-cases/{2**31}").status_code == 422
    assert client.get("/api/v1/opportunities/2147483647").status_code == 404


def test_citizens_and_strangers_are_refused(client, growth, make_citizen, login) -> None:
    assert client.get("/api/v1/opportunities").status_code == 401
    assert client.post("/api/v1/opportunities", json={"title": "x"}).status_code == 401
    citizen, _cpr = make_citizen()
    login(citizen)
    assert client.get("/api/v1/opportunities").status_code == 403


def test_cpr_in_text_is_refused(client, session, growth, as_user) -> None:
    response = client.post("/api/v1/opportunities", json={
        "title": "Borger 010203-1234 ønsker"}, headers=as_user(growth.company_user))
    assert response.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(Opportunity)) == 0


def test_screening_model_endpoint_and_page(client) -> None:
    model = client.get("/api/v1/screening-model").get_json()
    assert model["should_meet"][0]["scale"] == {"min": 0, "max": 5}
    assert {"key", "label_da", "label_en"} <= set(model["must_meet"][0])
    page = client.get("/screening-model?lang=en")
    assert page.status_code == 200
    assert "A named public need owner" in page.get_data(as_text=True)


def test_board_agenda_and_opportunity_pages(client, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    recommend(client, as_user(growth.secretariat), created["id"], "identifikation")
    as_user(growth.steering)
    board = client.get("/opportunities?stage=bobler")
    text = board.get_data(as_text=True)
    assert board.status_code == 200 and "Hjemmemonitorering af KOL" in text
    assert "Afventer beslutning" in text
    agenda = client.get("/opportunities/agenda").get_data(as_text=True)
    assert "Klar til næste fase" in agenda
    page = client.get(f"/opportunities/{created['id']}").get_data(as_text=True)
    assert "Styregruppens beslutning" in page
    assert client.get("/opportunities?stage=nowhere").status_code == 422
    assert client.get("/opportunities?theme=nowhere").status_code == 422
    themed = client.get("/opportunities?theme=telemedicine&q=KOL").get_data(as_text=True)
    assert "Hjemmemonitorering af KOL" in themed
    other = client.get("/opportunities?theme=simulation").get_data(as_text=True)
    assert "Hjemmemonitorering af KOL" not in other
    assert client.get("/opportunities/progress").status_code == 200


def test_page_form_refusal_shows_the_error(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    headers = as_user(growth.secretariat)
    response = client.post(f"/opportunities/{created['id']}/recommendations", data={
        "csrf_token": headers["X-CSRF-Token"], "to_stage": "koncept_og_plan", "text": "x"})
    assert response.status_code == 409
    assert "springes over" in response.get_data(as_text=True)
    response = client.post(f"/opportunities/{created['id']}/recommendations", data={
        "csrf_token": headers["X-CSRF-Token"], "to_stage": "identifikation",
        "score-treatment_errors": "7", "text": "x"})
    assert response.status_code == 422
    assert "skalaen 0–5" in response.get_data(as_text=True)


def test_growth_kpis(client, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    _to_execution(client, as_user, growth, created["id"])
    data = client.get("/api/v1/growth-kpis").get_json()
    assert data["opportunities_initiated"]["value"] == 1
    assert data["opportunities_identified"]["value"] == 1
    assert data["opportunities_initiated"]["target_range"] == [9, 12]
    assert data["business_areas"]["value"] == 1
    assert data["companies_domestic_growth"]["value"] == 1
    assert data["companies_export_growth"]["target"] == 6
    assert [m["target"] for m in data["test_course_milestones"]] == [20, 35, 45]
    assert data["municipalities_involved"]["involved"] == 1


def test_clinical_project_form(client, session, growth, as_user) -> None:
    headers = as_user(growth.hospital_admin)
    page = client.get("/clinical-projects/new")
    assert page.status_code == 200
    form = {"csrf_token": headers["X-CSRF-Token"], "title": "AI-triage", "department": "herlev",
            "funding_dkk": "-3", "start": "2025-01-01", "end": "2027-12-31",
            "ethics_approval": "H-1", "company_partners": "pulmo",
            "outcome-0-dimension": "treatment_errors", "outcome-0-metric": "fejl",
            "outcome-0-baseline": "10", "outcome-0-result": "6", "outcome-0-unit": "%"}
    refused = client.post("/clinical-projects/new", data=form)
    assert refused.status_code == 422
    assert "funding_dkk" in refused.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Opportunity)) == 0
    accepted = client.post("/clinical-projects/new", data={**form, "funding_dkk": "3500000"})
    assert accepted.status_code == 303
    opportunity = session.scalar(sa.select(Opportunity))
    assert opportunity.stage == "kvalificering"
    assert opportunity.evidence[0].provenance["outcomes"][0]["result"] == 6.0


def test_pages_refuse_cleanly(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    headers = as_user(growth.company_user)
    assert client.get(f"/opportunities/{2**31}").status_code == 404
    assert client.get(f"/opportunities/{10**30}").status_code == 404
    assert client.get(f"/procurement-cases/{2**31}").status_code == 404
    response = client.post(f"/opportunities/{created['id']}/gate-decisions", data={
        "csrf_token": headers["X-CSRF-Token"], "to_stage": "identifikation", "decision": "go",
        "minutes": "Vi bestemmer selv"})
    assert response.status_code == 403
    assert "styregruppen" in response.get_data(as_text=True)
    english = client.get(f"/opportunities/{2**31}?lang=en")
    assert "opportunity 2147483648 does not exist" in english.get_data(as_text=True)
    response = client.post(f"/opportunities/{created['id']}/evidence", data={
        "csrf_token": headers["X-CSRF-Token"], "source": "output", "id": "abc"})
    assert response.status_code == 422
    response = client.post(f"/opportunities/{created['id']}/gate-decisions", data={
        "to_stage": "identifikation", "decision": "go", "minutes": "uden CSRF"})
    assert response.status_code in (400, 403)
    assert session.get(Opportunity, created["id"]).stage == "bobler"
    assert client.get("/opportunities", headers={"Accept": "text/html"}).status_code == 200
    client.post("/auth/logout", headers=headers)
    assert client.get("/opportunities").status_code == 302


def test_clinical_project_brings_its_permits_released_outputs(client, session, growth,
                                                              as_user) -> None:
    released = _released_output(session, growth.hospital)
    pending = _released_output(session, growth.hospital, status="pending_review")
    rival = _released_output(session, growth.rival)
    permit_of = {output_id: session.get(WorkspaceOutput, output_id).permit_id
                 for output_id in (released, pending, rival)}
    headers = as_user(growth.hospital_admin)
    refused = client.post("/api/v1/clinical-projects", headers=headers, json=_clinical_body(
        permit_ids=[permit_of[rival]]))
    assert refused.status_code == 422  # as a permit that does not exist
    response = client.post("/api/v1/clinical-projects", headers=headers, json=_clinical_body(
        permit_ids=[permit_of[released], permit_of[pending]]))
    assert response.status_code == 201, response.get_json()
    shown = client.get(f"/api/v1/opportunities/{response.get_json()['opportunity_id']}")
    sources = [(e["source"], e["source_id"]) for e in shown.get_json()["evidence"]]
    assert ("output", released) in sources
    assert ("output", pending) not in sources


def test_edit_page_for_the_registering_organisation_only(client, session, growth,
                                                         as_user) -> None:
    created = register(client, as_user(growth.company_user))
    rival = as_user(growth.rival_user)
    assert client.get(f"/opportunities/{created['id']}/edit").status_code == 403
    response = client.post(f"/opportunities/{created['id']}/edit", data={
        "csrf_token": rival["X-CSRF-Token"], "title": "Kapret"})
    assert response.status_code == 403
    own = as_user(growth.company_user)
    form = client.get(f"/opportunities/{created['id']}/edit").get_data(as_text=True)
    assert 'value="Hjemmemonitorering af KOL"' in form
    bad = client.post(f"/opportunities/{created['id']}/edit", data={
        "csrf_token": own["X-CSRF-Token"], "title": "", "themes": "telemedicine"})
    assert bad.status_code == 422
    good = client.post(f"/opportunities/{created['id']}/edit", data={
        "csrf_token": own["X-CSRF-Token"], "title": "KOL hjemme", "need_owner": "albertslund",
        "companies": "pulmo", "themes": "telemedicine"})
    assert good.status_code == 303
    session.expire_all()
    assert session.get(Opportunity, created["id"]).title == "KOL hjemme"


def test_a_knock_out_stops_go_but_not_kill(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    advance(client, as_user, growth, created["id"], "identifikation")
    response = recommend(client, as_user(growth.secretariat), created["id"], "kvalificering",
                         must_meet={**MUST, "data_protection": False},
                         reasons={"data_protection": "Ingen konsekvensanalyse"})
    assert response.status_code == 201
    assert response.get_json()["knocked_out"] is True
    steering = as_user(growth.steering)
    refused = decide(client, steering, created["id"], "kvalificering")
    assert refused.status_code == 409
    assert "skal-kriterier" in refused.get_json()["detail"]
    assert decide(client, steering, created["id"], "stoppet", "kill").status_code == 201
    assert session.get(Opportunity, created["id"]).stage == "stoppet"


def test_plan_refusals(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    url = f"/api/v1/opportunities/{created['id']}/plan"
    body = {"kpis": [{"dimension": "treatment_errors", "baseline": 10, "target": 5}],
            "tracks": ["export"]}
    headers = as_user(growth.company_user)
    assert client.put(url, json=body, headers=headers).status_code == 409
    for stage in ("identifikation", "kvalificering", "koncept_og_plan"):
        advance(client, as_user, growth, created["id"], stage)
    headers = as_user(growth.company_user)
    twice = {**body, "kpis": body["kpis"] * 2}
    assert client.put(url, json=twice, headers=headers).status_code == 422
    assert client.put(url, json={**body, "tracks": ["lottery"]},
                      headers=headers).status_code == 422
    assert client.put(url, json={**body, "kpis": [{"dimension": "treatment_errors",
                                                   "baseline": 1e300, "target": 5}]},
                      headers=headers).status_code == 422
    assert client.put(url, json=body, headers=as_user(growth.rival_user)).status_code == 403
    session.expire_all()
    assert session.get(Opportunity, created["id"]).kpis == {}
    assert client.put(url, json=body, headers=as_user(growth.company_user)).status_code == 200


def test_absurd_step_amounts_are_422(client, session, growth, as_user) -> None:
    created = register(client, as_user(growth.company_user))
    _to_execution(client, as_user, growth, created["id"])
    headers = as_user(growth.municipality_admin)
    case = client.post(f"/api/v1/opportunities/{created['id']}/procurement-case",
                       json={"yearly_cost_dkk": 45_000}, headers=headers).get_json()
    url = f"/api/v1/procurement-cases/{case['id']}/steps/investment"
    for fields in ({"yearly_cost_dkk": 5 * 10**9}, {"volume": -1}, {"volume": "mange"},
                   {"route": "direct_purchase"}, {"unknown": 1}):
        response = client.put(url, json={"fields": fields}, headers=headers)
        assert response.status_code == 422, fields
    assert client.put(f"/api/v1/procurement-cases/{case['id']}/steps/bribe",
                      json={"fields": {}}, headers=headers).status_code == 422
    shown = client.get(f"/api/v1/procurement-cases/{case['id']}").get_json()
    assert shown["yearly_cost_dkk"] == 45_000 and shown["route"] == "direct_purchase"
