"""Evidence from test courses flows into the procurement case, with links back; the API is
documented; the cluster's people find the pipeline."""
from datetime import UTC, datetime

import sqlalchemy as sa

from marketplace.growth.models import Evidence
from marketplace.testbeds.models import (
    SolutionProfile,
    TestCourse,
    TestEnvironment,
    TestEnvironmentHost,
    TestOutcome,
)
from tests.growth.test_views import _to_execution, register

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _course(session, company, host, *, title="KOL-test i Albertslund") -> int:
    environment = TestEnvironment(
        slug=f"env-{company.slug}", name_da="Hjemmebehandling", name_en="Home treatment",
        themes=["home_treatment"], hosts=[TestEnvironmentHost(org_id=host.id,
                                                              sector="municipality")])
    solution = SolutionProfile(company_org_id=company.id, name="PulmoHome")
    session.add_all([environment, solution])
    session.flush()
    course = TestCourse(environment_id=environment.id, company_org_id=company.id,
                        solution_profile_id=solution.id, title=title, status="completed",
                        yearly_cost_dkk=45_000, procurement_need="Færre genindlæggelser",
                        procurement_market="To danske leverandører", created_at=NOW)
    session.add(course)
    session.flush()
    session.add(TestOutcome(course_id=course.id, dimension="prevented_admissions",
                            party="host", recorded_by_org_id=host.id,
                            metric="genindlæggelser", unit="%", baseline=40.0, result=30.0))
    session.commit()
    return course.id


def test_test_course_evidence_prefills_the_procurement_case(client, session, growth,
                                                            as_user) -> None:
    created = register(client, as_user(growth.company_user))
    course_id = _course(session, growth.company, growth.municipality)
    rival_course = _course(session, growth.rival, growth.municipality, title="Andens test")
    headers = as_user(growth.company_user)
    url = f"/api/v1/opportunities/{created['id']}/evidence"
    refused = client.post(url, json={"source": "test_course", "id": rival_course},
                          headers=headers)
    assert refused.status_code == 422  # as a course that does not exist
    linked = client.post(url, json={"source": "test_course", "id": course_id}, headers=headers)
    assert linked.status_code == 201, linked.get_json()
    assert linked.get_json()["provenance"]["outcomes"][0]["baseline"] == 40.0
    _to_execution(client, as_user, growth, created["id"])
    case = client.post(f"/api/v1/opportunities/{created['id']}/procurement-case",
                       json={"yearly_cost_dkk": 45_000},
                       headers=as_user(growth.municipality_admin)).get_json()
    steps = {step["key"]: step for step in case["steps"]}
    assert steps["need"]["evidence"] == [{"source": "test_course", "id": course_id}]
    assert "Færre genindlæggelser" in steps["need"]["fields"]["need"]
    assert "To danske leverandører" in steps["market"]["fields"]["market"]
    assert steps["investment"]["fields"]["effect_percent"] == 25
    page = client.get(f"/procurement-cases/{case['id']}?lang=en").get_data(as_text=True)
    assert f'href="/test-courses/{course_id}"' in page
    assert "Direct purchase (under DKK 50,000 a year)" in page
    pdf = client.get(f"/procurement-cases/{case['id']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 1


def test_the_api_is_documented(client) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/opportunities", "/api/v1/opportunities/{opportunity_id}",
                 "/api/v1/opportunities/{opportunity_id}/recommendations",
                 "/api/v1/opportunities/{opportunity_id}/gate-decisions",
                 "/api/v1/screening-model", "/api/v1/clinical-projects",
                 "/api/v1/opportunities/{opportunity_id}/procurement-case",
                 "/api/v1/procurement-cases/{case_id}",
                 "/api/v1/procurement-cases/{case_id}/pdf"):
        assert path in paths, path
    decisions = paths["/api/v1/opportunities/{opportunity_id}/gate-decisions"]["post"]
    assert {"201", "403", "409", "422"} <= set(decisions["responses"])
    assert "requestBody" in decisions
    assert decisions["security"][0] == {"oauth2": ["growth:write"]}


def test_home_and_navigation_for_the_cluster(client, growth, login) -> None:
    login(growth.secretariat)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/opportunities"' in page
    assert "indstiller dem til styregruppen" in page


def test_released_statistics_results_are_evidence_of_their_own_company(
        client, growth, as_user, session) -> None:
    from marketplace.catalog import services as catalog_services
    from marketplace.catalog.descriptor import Descriptor
    from marketplace.db import utcnow
    from marketplace.identity import services as identity_services
    from marketplace.statistics.models import StatisticsRequest
    from tests.delivery.conftest import descriptor

    holder = identity_services.staff_principal(growth.hospital_admin)
    dataset = catalog_services.create_dataset(session, actor=holder,
                                              descriptor=Descriptor.model_validate(descriptor()))

    def statistics(company, status: str) -> int:
        request = StatisticsRequest(
            company_org_id=company.id, dataset_id=dataset.id, requested_by="test",
            title="Genindlæggelser pr. kommune", purpose="company_research", description="",
            measures=[{"kind": "count_persons"}], group_by=["municipality"], cohort={},
            method="sdc", status=status, decision={"outcome": "permit", "reasons": []},
            released_at=utcnow() if status == "released" else None)
        session.add(request)
        session.commit()
        return request.id

    ours, theirs = statistics(growth.company, "released"), statistics(growth.rival, "released")
    waiting = statistics(growth.company, "review")
    created = register(client, as_user(growth.company_user))
    url = f"/api/v1/opportunities/{created['id']}/evidence"
    headers = as_user(growth.company_user)
    assert client.post(url, json={"source": "statistics", "id": 2**30},
                       headers=headers).status_code == 422
    assert client.post(url, json={"source": "statistics", "id": theirs},
                       headers=headers).status_code == 422
    assert client.post(url, json={"source": "statistics", "id": waiting},
                       headers=headers).status_code == 409
    linked = client.post(url, json={"source": "statistics", "id": ours}, headers=headers)
    assert linked.status_code == 201, linked.get_json()
    assert linked.get_json()["title"] == "Genindlæggelser pr. kommune"
