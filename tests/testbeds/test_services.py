"""Test environments, courses, evidence, dossiers and KPIs through the services."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from marketplace import audit, reporting
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from marketplace.testbeds import services
from marketplace.testbeds.commands import (
    CourseChanges,
    CourseProposal,
    EnvironmentChanges,
    NewEnvironment,
    OutcomeReport,
    SolutionDescription,
)
from marketplace.testbeds.models import EvidenceFile
from tests.testbeds.conftest import NOW

PLAN = {"title": "StrideAssist i genoptræning", "goal": "Vis effekt på gangfunktion",
        "planned_start": "2026-03-01", "planned_end": "2026-10-31"}
OUTCOME = {"dimension": "faster_return_home", "metric": "Dage til udskrivelse", "unit": "dage",
           "baseline": 10, "result": 7}


def proposal(environment_id, solution_id, plan=PLAN):
    return CourseProposal.model_validate({**plan, "test_environment_id": environment_id,
                                          "solution_profile_id": solution_id})


def propose(session, world, environment=None):
    return services.propose_test_course(
        session, actor=world.company, now=NOW,
        proposal=proposal((environment or world.environment).id, world.solution_id))


def move(session, world, course, *statuses, actor=None):
    for status in statuses:
        services.change_test_course(session, actor=actor or world.host, course_id=course.id,
                                    changes=CourseChanges(status=status), now=NOW)


def described(**fields):
    return SolutionDescription.model_validate(fields)


def refused_fields(command, data, act) -> set[str]:
    """The fields refused by the command, or else by the service acting on it."""
    try:
        checked = command.model_validate(data)
    except ValidationError as error:
        return {str(entry["loc"][0]) for entry in error.errors()}
    with pytest.raises(Invalid) as raised:
        act(checked)
    return {entry["field"] for entry in raised.value.errors}


def completed_course(session, world):
    course = propose(session, world)
    move(session, world, course, "agreed", "running", "completed")
    return course


# Environments ---------------------------------------------------------------------------------


def test_a_host_edits_its_environment(session, world):
    services.update_test_environment(session, actor=world.host,
                                     environment_id=world.environment.id,
                                     changes=EnvironmentChanges(capacity_per_year=9,
                                                                 themes=["prevention"]))
    assert world.environment.capacity_per_year == 9
    assert world.environment.themes == ["prevention"]


@pytest.mark.parametrize("who", ["other_host", "company", "buyer"])
def test_only_hosts_edit_an_environment(session, world, who):
    with pytest.raises(Forbidden):
        services.update_test_environment(session, actor=getattr(world, who),
                                         environment_id=world.environment.id,
                                         changes=EnvironmentChanges(capacity_per_year=0))
    assert world.environment.capacity_per_year == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"themes": ["astrology"]}, "themes"),
        ({"trl_min": 0}, "trl_min"),
        ({"capacity_per_year": -1}, "capacity_per_year"),
        ({"name_da": ""}, "name_da"),
        ({"description_da": "x" * 100_000}, "description_da"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"homepage": "javascript:alert(1)"}, "homepage"),
        ({"dataset_ids": [999_999]}, "dataset_ids"),
        ({"hosts": []}, "hosts"),
    ],
)
def test_bad_environment_changes_are_refused_and_change_nothing(session, world, changes, field):
    before = (world.environment.themes, world.environment.trl_min, world.environment.name_da)
    assert field in refused_fields(
        EnvironmentChanges, changes, lambda command: services.update_test_environment(
            session, actor=world.host, environment_id=world.environment.id, changes=command))
    assert (world.environment.themes, world.environment.trl_min,
            world.environment.name_da) == before


def test_trl_window_must_be_ordered(session, world):
    with pytest.raises(ValidationError, match="trl_max"):
        EnvironmentChanges.model_validate({"trl_min": 9, "trl_max": 2})
    with pytest.raises(Invalid):  # the stored trl_min is 4
        services.update_test_environment(session, actor=world.host,
                                         environment_id=world.environment.id,
                                         changes=EnvironmentChanges(trl_max=2))
    assert world.environment.trl_max == 9


def test_only_the_operator_adds_environments(session, world):
    with pytest.raises(Forbidden):
        services.create_test_environment(session, actor=world.host, environment=NewEnvironment(
            slug="new-lab", name_da="Nyt", hosts=[{"org": "herlev", "sector": "hospital"}]))


# Matching -------------------------------------------------------------------------------------


def test_matching_ranks_the_rehabilitation_environment_for_an_exoskeleton(session, world):
    profile = described(description="Exoskeleton for stroke rehabilitation",
                        needs=["citizens", "patients"]).profile()
    result = services.match_environments(session, profile=profile, now=NOW)
    assert result.items[0].environment.id == world.environment.id
    coverage = next(r for r in result.items[0].reasons if r.code == "host_coverage")
    assert coverage.fits


@pytest.mark.parametrize(
    "body",
    [
        {"themes": ["astrology"]},
        {},
        {"description": "x" * 100_000},
        {"themes": "rehabilitation"},
        {"trl": "high"},
        {"trl": 12, "description": "robot"},
        {"description": 42},
    ],
)
def test_bad_profiles_are_refused(body):
    try:
        profile = SolutionDescription.model_validate(body).profile()
    except ValidationError:
        return
    assert services.VOCABULARY.validate(profile)  # nothing to match on


def test_free_slots_shrink_with_agreed_courses(session, world):
    course = propose(session, world)
    assert services.free_slots(session, now=NOW)[world.environment.id] == 3
    move(session, world, course, "agreed")
    assert services.free_slots(session, now=NOW)[world.environment.id] == 2


# Solution profiles ----------------------------------------------------------------------------


def test_only_companies_save_solution_profiles(session, world):
    with pytest.raises(Forbidden):
        services.create_solution_profile(session, actor=world.host,
                                         description=described(name="x", description="x"))


def test_a_company_cannot_read_another_companys_profile(session, world):
    with pytest.raises(NotFound):
        services.require_solution_profile(session, actor=world.rival_company,
                                          profile_id=world.solution_id)
    assert services.list_solution_profiles(session, actor=world.rival_company) == []


# Course life ----------------------------------------------------------------------------------


def test_a_course_runs_from_proposal_to_evaluation(session, world):
    course = propose(session, world)
    assert course.status == "proposed"
    move(session, world, course, "agreed")
    move(session, world, course, "running", "completed", actor=world.company)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    move(session, world, course, "evaluated")
    assert course.status == "evaluated"
    assert [e.to_status for e in course.events] == [
        "proposed", "agreed", "running", "completed", "evaluated"]
    assert course.outcomes[0].change == pytest.approx(0.3)


def test_the_company_cannot_accept_its_own_proposal(session, world):
    course = propose(session, world)
    with pytest.raises(Forbidden):
        move(session, world, course, "agreed", actor=world.company)
    assert course.status == "proposed"


def test_only_the_host_marks_a_course_evaluated(session, world):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.company, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    with pytest.raises(Forbidden):
        move(session, world, course, "evaluated", actor=world.company)
    assert course.status == "completed"
    move(session, world, course, "evaluated")
    assert course.status == "evaluated"


def test_the_company_withdraws_its_proposal(session, world):
    course = propose(session, world)
    with pytest.raises(Forbidden):
        move(session, world, course, "withdrawn")
    move(session, world, course, "withdrawn", actor=world.company)
    assert course.status == "withdrawn"
    assert [e.to_status for e in course.events] == ["proposed", "withdrawn"]
    with pytest.raises(Conflict):
        move(session, world, course, "agreed")
    again = propose(session, world)  # the solution may be proposed anew
    assert again.status == "proposed"


def test_an_agreed_course_cannot_be_withdrawn(session, world):
    course = propose(session, world)
    move(session, world, course, "agreed")
    with pytest.raises(Conflict):
        move(session, world, course, "withdrawn", actor=world.company)
    assert course.status == "agreed"


def test_a_host_of_another_environment_cannot_decide(session, world):
    course = propose(session, world)
    with pytest.raises(NotFound):
        move(session, world, course, "agreed", actor=world.other_host)
    assert course.status == "proposed"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), "running"),                                   # skips agreed
        (("agreed",), "completed"),                        # skips running
        (("agreed", "running"), "agreed"),                 # backwards
        (("agreed", "running", "completed"), "running"),   # backwards
        (("declined",), "agreed"),                         # declined is final
        ((), "proposed"),                                  # already there
    ],
)
def test_moves_backwards_or_skipping_a_state_are_conflicts(session, world, path, target):
    course = propose(session, world)
    move(session, world, course, *path)
    before = (course.status, len(course.events))
    with pytest.raises(Conflict):
        move(session, world, course, target)
    assert (course.status, len(course.events)) == before


def test_unknown_status_and_fields_are_invalid(session, world):
    course = propose(session, world)
    with pytest.raises(Invalid):
        services.change_test_course(session, actor=world.host, course_id=course.id,
                                    changes=CourseChanges(status="teleported"), now=NOW)
    with pytest.raises(ValidationError):
        CourseChanges.model_validate({"company_org_id": 1})
    assert course.status == "proposed"


def test_evaluation_needs_an_outcome(session, world):
    course = completed_course(session, world)
    with pytest.raises(Conflict, match="resultat"):
        move(session, world, course, "evaluated")
    assert course.status == "completed"


def test_a_full_environment_cannot_accept_more(session, world):
    world.environment.capacity_per_year = 1
    first = propose(session, world)
    move(session, world, first, "agreed")
    other = services.create_solution_profile(
        session, actor=world.foreign_company, description=described(name="Other",
                                                                   description="robot"))
    second = services.propose_test_course(
        session, actor=world.foreign_company, now=NOW,
        proposal=proposal(world.environment.id, other.id))
    with pytest.raises(Conflict, match="ledige pladser"):
        move(session, world, second, "agreed")


def test_the_same_solution_cannot_be_proposed_twice_while_open(session, world):
    propose(session, world)
    with pytest.raises(Conflict):
        propose(session, world)


def test_proposals_need_a_title_and_ordered_dates(world):
    with pytest.raises(ValidationError, match="title"):
        proposal(world.environment.id, world.solution_id, plan={"title": " "})
    with pytest.raises(ValidationError, match="planned_end"):
        proposal(world.environment.id, world.solution_id,
                 plan={**PLAN, "planned_start": "2026-12-01", "planned_end": "2026-01-01"})


def test_a_company_proposes_only_its_own_solution(session, world):
    with pytest.raises(NotFound):
        services.propose_test_course(session, actor=world.rival_company, now=NOW,
                                     proposal=proposal(world.environment.id, world.solution_id))
    with pytest.raises(NotFound):
        services.propose_test_course(session, actor=world.company, now=NOW,
                                     proposal=proposal(999_999, world.solution_id))


def test_a_company_sees_only_its_own_courses(session, world):
    course = propose(session, world)
    assert services.list_test_courses(session, actor=world.rival_company) == []
    assert [c.id for c in services.list_test_courses(session, actor=world.company)] == [course.id]
    assert [c.id for c in services.list_test_courses(session, actor=world.host)] == [course.id]
    assert services.list_test_courses(session, actor=world.other_host) == []
    with pytest.raises(NotFound):
        services.require_test_course(session, actor=world.rival_company, course_id=course.id)


def test_buyers_see_only_finished_courses(session, world):
    course = propose(session, world)
    assert services.list_test_courses(session, actor=world.buyer) == []
    move(session, world, course, "agreed", "running", "completed")
    assert [c.id for c in services.list_test_courses(session, actor=world.buyer)] == [course.id]


# Outcomes and evidence -------------------------------------------------------------------------


def test_outcomes_are_only_recorded_while_running_or_completed(session, world):
    course = propose(session, world)
    with pytest.raises(Conflict):
        services.record_outcome(session, actor=world.host, course_id=course.id,
                                report=OutcomeReport(**OUTCOME))
    move(session, world, course, "agreed", "running")
    with pytest.raises(NotFound):
        services.record_outcome(session, actor=world.rival_company, course_id=course.id,
                                report=OutcomeReport(**OUTCOME))


@pytest.mark.parametrize(
    "data",
    [
        {**OUTCOME, "dimension": "happiness"},
        {**OUTCOME, "result": "many"},
        {**OUTCOME, "result": None},
        {**OUTCOME, "metric": ""},
        {**OUTCOME, "better": "sideways"},
        {**OUTCOME, "baseline": float("inf")},
    ],
)
def test_bad_outcomes_are_invalid(data):
    with pytest.raises(ValidationError):
        OutcomeReport.model_validate(data)


def test_recording_again_replaces_the_partys_outcome(session, world):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**{**OUTCOME, "result": 5}))
    services.record_outcome(session, actor=world.company, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    assert sorted((o.party, o.result) for o in course.outcomes) == [
        ("company", 7), ("host", 5)]


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def evidence(session, world, course, data, keyring, data_dir, filename="x.pdf"):
    return services.add_evidence(session, actor=world.host, course_id=course.id,
                                 filename=filename, data=data, dimension=None, keyring=keyring,
                                 data_dir=data_dir)


def test_evidence_is_stored_encrypted_and_read_back(session, world, keyring, data_dir):
    course = completed_course(session, world)
    stored = evidence(session, world, course, PDF, keyring, data_dir,
                      filename="../../etc/rapport final.pdf")
    assert stored.content_type == "application/pdf"
    assert stored.filename == "rapport final.pdf"
    raw = (data_dir / stored.path).read_bytes()
    assert b"%PDF" not in raw
    _, data = services.read_evidence(session, actor=world.company, evidence_id=stored.id,
                                     keyring=keyring, data_dir=data_dir)
    assert data == PDF
    with pytest.raises(NotFound):
        services.read_evidence(session, actor=world.rival_company, evidence_id=stored.id,
                               keyring=keyring, data_dir=data_dir)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"MZ\x90\x00\x03\x00" + b"\x00" * 100, Invalid),        # a Windows program
        (b"", Invalid),
        (b"maaling,cpr\n1,0703851234\n", Invalid),               # a CPR number in a CSV
        (b"x" * (services.EVIDENCE_MAX_BYTES + 1), TooLarge),
    ],
)
def test_bad_evidence_is_refused_and_nothing_is_stored(session, world, keyring, data_dir, data,
                                                       error):
    course = completed_course(session, world)
    with pytest.raises(error):
        evidence(session, world, course, data, keyring, data_dir)
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceFile)) == 0
    assert not (data_dir / "evidence").exists()


# Dossier, procurement and KPIs ----------------------------------------------------------------


def test_dossier_needs_a_finished_course(session, world):
    course = propose(session, world)
    with pytest.raises(Conflict):
        services.build_dossier(session, actor=world.company, course_id=course.id, now=NOW)


@pytest.mark.parametrize(("cost", "direct"), [(42_000, True), (50_000, True), (50_001, False)])
def test_dossier_checks_the_direct_purchase_level(session, world, cost, direct):
    course = completed_course(session, world)
    services.change_test_course(session, actor=world.company, course_id=course.id, now=NOW,
                                changes=CourseChanges(yearly_cost_dkk=cost,
                                                      procurement_need="Behov"))
    dossier = services.build_dossier(session, actor=world.buyer, course_id=course.id, now=NOW)
    assert dossier.within_direct_purchase is direct
    assert dossier.need == "Behov"
    assert set(dossier.missing) == {"value", "market", "evidence_heading"}


@pytest.mark.parametrize("cost", [-1, "cheap", 10**12, True])
def test_bad_costs_are_invalid(cost):
    with pytest.raises(ValidationError, match="yearly_cost_dkk"):
        CourseChanges.model_validate({"yearly_cost_dkk": cost})


def test_a_public_buyer_starts_one_procurement(session, world):
    course = completed_course(session, world)
    with pytest.raises(Forbidden):
        services.start_procurement(session, actor=world.company, course_id=course.id, note="",
                                   now=NOW)
    procurement = services.start_procurement(session, actor=world.buyer, course_id=course.id,
                                             note="Vi køber", now=NOW)
    assert procurement.buyer_org_id == world.buyer.org_id
    with pytest.raises(Conflict):
        services.start_procurement(session, actor=world.buyer, course_id=course.id, note="",
                                   now=NOW)


def test_kpis_count_courses_involvement_foreign_companies_and_procurements(session, world):
    empty = reporting.compute_kpis(session, now=NOW)
    assert empty.item("test_courses").value == 0
    course = completed_course(session, world)
    foreign_solution = services.create_solution_profile(
        session, actor=world.foreign_company,
        description=described(name="Bridge", description="robot"))
    foreign = services.propose_test_course(
        session, actor=world.foreign_company, now=NOW,
        proposal=proposal(world.environment.id, foreign_solution.id))
    services.propose_test_course(
        session, actor=world.company, now=NOW,
        proposal=proposal(world.other_environment.id, world.solution_id))
    report = reporting.compute_kpis(session, now=NOW)
    assert report.item("test_courses").value == 1          # proposals do not count yet
    assert report.item("foreign_companies").value == 0
    move(session, world, foreign, "agreed")
    services.start_procurement(session, actor=world.buyer, course_id=course.id, note="",
                               now=NOW + timedelta(days=1))
    report = reporting.compute_kpis(session, now=NOW)
    assert report.item("test_courses").value == 2
    assert report.item("foreign_companies").value == 1
    assert report.item("innovative_procurements").value == 1
    # the host municipality and the buying municipality
    assert report.item("municipalities_involved").value == pytest.approx(2 / 46)
    assert report.item("hospitals_involved").value == pytest.approx(1 / 21)
    assert report.courses_by_status == {"completed": 1, "agreed": 1, "proposed": 1}


def test_an_access_application_may_name_only_an_open_course_of_its_company(session, world):
    course = propose(session, world)
    assert services.require_course_for_access(
        session, course_id=course.id, company_org_id=world.company.org_id) is course
    with pytest.raises(NotFound):
        services.require_course_for_access(session, course_id=course.id,
                                           company_org_id=world.rival_company.org_id)
    with pytest.raises(NotFound):
        services.require_course_for_access(session, course_id=999_999,
                                           company_org_id=world.company.org_id)
    move(session, world, course, "declined")
    with pytest.raises(Conflict):
        services.require_course_for_access(session, course_id=course.id,
                                           company_org_id=world.company.org_id)


@pytest.fixture
def catalogue(monkeypatch):
    """Two published datasets and a draft, standing in for the catalogue domain."""
    from types import SimpleNamespace

    from marketplace.catalog import services as catalog_services

    publisher = SimpleNamespace(slug="herlev", name="Herlev Hospital", level="regional")
    datasets = {
        1: SimpleNamespace(id=1, status="published", title="Genoptræning efter apopleksi",
                           description="Forløb og gangfunktion", keywords=["exoskelet"],
                           themes=[], health_categories=[], publisher=publisher),
        2: SimpleNamespace(id=2, status="published", title="Søvnmålinger på plejecentre",
                           description="", keywords=["døgnrytme"], themes=[],
                           health_categories=[], publisher=publisher),
        3: SimpleNamespace(id=3, status="draft", title="Udkast", description="", keywords=[],
                           themes=[], health_categories=[], publisher=publisher),
    }
    monkeypatch.setattr(catalog_services, "get_dataset",
                        lambda session, *, dataset_id: datasets.get(dataset_id))
    monkeypatch.setattr(catalog_services, "list_published_datasets",
                        lambda session, **kw: [d for d in datasets.values()
                                               if d.status == "published"])
    return datasets


def test_hosts_link_published_datasets_and_matches_suggest_fitting_ones(session, world,
                                                                        catalogue):
    with pytest.raises(Invalid) as raised:
        services.update_test_environment(session, actor=world.host,
                                         environment_id=world.environment.id,
                                         changes=EnvironmentChanges(dataset_ids=[1, 3]))
    assert raised.value.errors == [{"field": "dataset_ids",
                                    "message": "ikke udgivet i kataloget: 3"}]
    assert world.environment.dataset_ids == []
    services.update_test_environment(session, actor=world.host,
                                     environment_id=world.environment.id,
                                     changes=EnvironmentChanges(dataset_ids=[1]))
    profile = described(description="Exoskelet til gangtræning", needs=["data"]).profile()
    result = services.match_environments(session, profile=profile, now=NOW)
    top = result.items[0]
    assert top.environment.id == world.environment.id
    assert [d.id for d in top.datasets] == [1]
    assert next(r for r in top.reasons if r.code == "available_data").fits
    assert [d.id for d in result.datasets] == [1]


def test_decisions_and_procurements_enter_the_audit_chain(session, world):
    from marketplace.audit import AuditEntry

    course = completed_course(session, world)
    services.start_procurement(session, actor=world.buyer, course_id=course.id, note="",
                               now=NOW)
    session.flush()
    actions = list(session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.subject_type == "test_course").order_by(AuditEntry.id)))
    assert actions == ["test_course.agreed", "test_course.running", "test_course.completed",
                       "procurement.started"]
    assert audit.verify_audit_chain(session).ok


def test_procurement_inputs_wait_for_the_test_and_freeze_when_buying_starts(session, world):
    course = propose(session, world)
    with pytest.raises(Conflict):
        services.change_test_course(session, actor=world.company, course_id=course.id,
                                    changes=CourseChanges(yearly_cost_dkk=1000), now=NOW)
    move(session, world, course, "agreed", "running", "completed")
    services.change_test_course(session, actor=world.company, course_id=course.id,
                                changes=CourseChanges(yearly_cost_dkk=1000), now=NOW)
    services.start_procurement(session, actor=world.buyer, course_id=course.id, note="",
                               now=NOW)
    with pytest.raises(Conflict):
        services.change_test_course(session, actor=world.company, course_id=course.id,
                                    changes=CourseChanges(yearly_cost_dkk=99_000), now=NOW)
    assert course.yearly_cost_dkk == 1000


# Correcting outcomes --------------------------------------------------------------------------


def evaluated_course(session, world):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    move(session, world, course, "evaluated")
    return course


def test_a_correction_replaces_the_outcome_and_is_audited(session, world):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**{**OUTCOME, "result": 8,
                                                     "reason": "Tastefejl i resultatet"}))
    assert [o.result for o in course.outcomes] == [8]
    corrections = services.outcome_corrections(session, course=course)
    assert len(corrections) == 1
    assert corrections[0].details["before"]["result"] == 7
    assert corrections[0].details["after"]["result"] == 8
    assert corrections[0].details["reason"] == "Tastefejl i resultatet"
    assert audit.verify_audit_chain(session).ok


def test_an_evaluated_outcome_is_corrected_only_with_a_reason(session, world):
    course = evaluated_course(session, world)
    with pytest.raises(Invalid) as refused:
        services.record_outcome(session, actor=world.host, course_id=course.id,
                                report=OutcomeReport(**{**OUTCOME, "result": 6}))
    assert refused.value.errors[0]["field"] == "reason"
    assert course.outcomes[0].result == 7
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**{**OUTCOME, "result": 6,
                                                     "reason": "Opgjort forkert"}))
    assert course.outcomes[0].result == 6 and course.status == "evaluated"


def test_an_evaluated_course_takes_no_new_outcomes(session, world):
    course = evaluated_course(session, world)
    with pytest.raises(Conflict):
        services.record_outcome(session, actor=world.host, course_id=course.id,
                                report=OutcomeReport(**{**OUTCOME, "dimension": "treatment_errors",
                                      "reason": "Glemt"}))
    assert len(course.outcomes) == 1


def test_one_party_cannot_correct_the_others_outcome(session, world):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**OUTCOME))
    services.record_outcome(session, actor=world.company, course_id=course.id,
                            report=OutcomeReport(**{**OUTCOME, "result": 1}))
    assert sorted((o.party, o.result) for o in course.outcomes) == [("company", 1), ("host", 7)]
    assert services.outcome_corrections(session, course=course) == []


@pytest.mark.parametrize("filename", ["rapport 0703851234.pdf", "070385-1234 rapport.pdf",
                                      "rapport_07.03.85-1234.pdf"])
def test_an_evidence_file_named_with_a_cpr_is_refused_and_nothing_stored(
        session, world, keyring, data_dir, filename):
    course = completed_course(session, world)
    with pytest.raises(Invalid) as refused:
        evidence(session, world, course, PDF, keyring, data_dir, filename=filename)
    assert refused.value.errors[0]["field"] == "file"
    assert "1234" not in refused.value.detail
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceFile)) == 0
    assert not any(p.is_file() for p in data_dir.rglob("*"))
