"""Each event tells the right people, only them, once, in their language and by their choice."""
from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.access import notices, services, sla
from marketplace.access.models import AccessRequest, Permit
from marketplace.access.ports import AccessEngine
from marketplace.access.schemas import Application
from marketplace.audit import actor_label
from marketplace.catalog.models import DataVersion
from marketplace.db import utcnow
from marketplace.delivery import services as delivery_services
from marketplace.delivery.models import Extract
from marketplace.identity import services as identity_services
from marketplace.notifications import runner
from marketplace.notifications import services as notifications
from marketplace.testbeds import courses
from marketplace.testbeds.commands import CourseChanges, CourseProposal
from marketplace.testbeds.models import SolutionProfile, TestEnvironment, TestEnvironmentHost
from marketplace.workspace import release
from marketplace.workspace import services as workspace_services
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput
from marketplace.workspace.release_schemas import OutputReviewIn
from tests.access.conftest import application
from tests.access.test_services import POLICIES
from tests.notifications.conftest import mail_to, told


@pytest.fixture
def submit(session, cohort_sizes):
    engine = AccessEngine(policies=POLICIES, estimate_cohort=cohort_sizes.estimate)

    def run(user, body):
        return services.submit_application(
            session, actor=identity_services.staff_principal(user),
            application=Application.model_validate(body), engine=engine, now=utcnow())

    return run


def test_a_permit_at_once_tells_the_applicants_staff_and_nobody_else(world, submit, session):
    colleague = identity_services.add_user(session, sub="colleague", email="c@pulmo.example",
                                           org=world.company, role="company_member")
    request = submit(world.company_user, application(world.herlev_data))
    assert request.status == "permitted"
    for user in (world.company_user, colleague):
        [notice] = told(session, user)
        assert notice.kind == "application_decided" and notice.link == f"/requests/{request.id}"
        [mail] = mail_to(session, user)
        assert mail.subject == ("Afgørelse om ansøgningen »KOL-forløb og hjemmemonitorering«: "
                                "godkendt")
        assert mail.status == "pending" and mail.language == "da"
    for outsider in (world.rival_user, world.herlev_reviewer, world.albertslund_admin,
                     world.operator_user):
        assert told(session, outsider) == []


def test_a_denial_tells_the_applicant_it_is_denied(world, submit, session, cohort_sizes):
    request = submit(world.company_user,
                     application(world.herlev_data, purpose="advertising_marketing"))
    assert request.status == "denied"
    [mail] = mail_to(session, world.company_user)
    assert mail.subject.endswith(": afslået")


def test_review_tells_each_holders_reviewers_then_the_decision_tells_the_applicant(
        world, submit, session):
    herlev_admin = identity_services.add_user(session, sub="herlev-admin",
                                              email="admin@herlev.example", org=world.herlev,
                                              role="holder_admin")
    herlev_checker = identity_services.add_user(session, sub="herlev-checker",
                                                email="check@herlev.example", org=world.herlev,
                                                role="output_checker")
    request = submit(world.company_user,
                     application(world.sensitive_data, world.albertslund_data,
                                 purpose="company_research"))
    assert request.status == "review"
    for reviewer in (world.herlev_reviewer, herlev_admin, world.albertslund_admin):
        [notice] = told(session, reviewer)
        assert notice.kind == "review_assigned"
        assert notice.params["due"] == sla.local_date(request.current_tasks[0].due_at).isoformat()
    assert told(session, herlev_checker) == []  # output checkers do not review applications
    assert told(session, world.company_user) == []  # nothing decided yet

    services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                request_id=request.id, decision="request_changes",
                                comment="Begrund kohorten nærmere.", now=utcnow())
    [notice] = told(session, world.company_user, "application_decided")
    assert notice.params["outcome"] == "changes_requested"
    assert told(session, world.herlev_reviewer, "application_decided") == []


def test_the_deadline_reminder_comes_once_within_five_working_days(world, submit, session):
    request = submit(world.company_user,
                     application(world.sensitive_data, purpose="company_research"))
    due = request.current_tasks[0].due_at
    early = due - timedelta(days=20)
    assert notices.remind_review_deadlines(session, early) == 0
    near = due - timedelta(days=3)
    days_left = sla.working_days_left(near, due)
    assert 0 <= days_left <= 5
    assert notices.remind_review_deadlines(session, near) == 1
    assert notices.remind_review_deadlines(session, near + timedelta(hours=5)) == 0
    [reminder] = told(session, world.herlev_reviewer, "review_deadline")
    assert reminder.params["days"] == str(days_left)
    [mail] = [m for m in mail_to(session, world.herlev_reviewer)
              if m.subject.startswith("Fristen")]
    assert f"Arbejdsdage tilbage: {days_left}." in mail.body
    assert told(session, world.company_user, "review_deadline") == []
    # A decided review is not reminded of.
    services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                request_id=request.id, decision="approve", comment="",
                                now=near)
    assert notices.remind_review_deadlines(session, due) == 0


def test_choices_decide_inbox_and_mail_separately_and_the_language(world, submit, session):
    actor = world.principal(world.company_user)
    notifications.set_choices(session, actor=actor, language="en", inbox={},
                              email={"application_decided": False}, now=utcnow())
    submit(world.company_user, application(world.herlev_data))
    [notice] = told(session, world.company_user)
    assert notice.in_inbox and mail_to(session, world.company_user) == []

    notifications.set_choices(session, actor=actor, language="en",
                              inbox={"application_decided": False},
                              email={"application_decided": True}, now=utcnow())
    submit(world.company_user, application(world.herlev_data, title="Second study"))
    latest = told(session, world.company_user)[-1]
    assert not latest.in_inbox
    [mail] = mail_to(session, world.company_user)
    assert mail.subject == "Decision on the application “Second study”: approved"
    assert mail.language == "en"
    inbox = notifications.list_inbox(session, actor=actor)
    assert [n.id for n in inbox.items] == [notice.id]


def test_titles_carrying_a_cpr_number_never_reach_a_mail(world, session):
    notifications.notify(session, kind="job_finished",
                         audience=notifications.members(world.company.id),
                         params={"name": "kohorte 010180-1234 og 0101801234", "status": "failed"},
                         link="/workspace/1")
    [mail] = mail_to(session, world.company_user)
    assert "1234" not in mail.subject + mail.body
    assert "[cpr]" in mail.subject


def test_the_one_who_acted_is_not_told_of_their_own_act(world, session):
    colleague = identity_services.add_user(session, sub="colleague-2", email="d@pulmo.example",
                                           org=world.company, role="company_member")
    notifications.notify(session, kind="course_answered",
                         audience=notifications.members(
                             world.company.id, actor=world.principal(world.company_user)),
                         params={"title": "Forløb", "answer": "agreed"}, link="/test-courses/1")
    assert told(session, world.company_user) == []
    assert len(told(session, colleague)) == 1


# --- test courses ----------------------------------------------------------------------------

def test_a_proposal_tells_the_hosts_and_the_answer_tells_the_company(world, session, make_org,
                                                                      make_user):
    host = make_org("test_host", slug="cames-test")
    host_user = make_user(host, role="host_member")
    environment = TestEnvironment(
        slug="env-notify", name_da="Simulationsmiljø", name_en="Simulation",
        description_da="Test", description_en="Test", themes=[], target_groups=[],
        resources=[], facilities=[], dataset_ids=[], trl_min=4, trl_max=9, capacity_per_year=3,
        contact_name="Kontakt", contact_email="kontakt@host.example")
    solution = SolutionProfile(company_org_id=world.company.id, name="StrideAssist")
    session.add_all([environment, solution])
    session.flush()
    session.add(TestEnvironmentHost(environment_id=environment.id, org_id=host.id,
                                    sector="hospital"))
    session.flush()
    session.refresh(environment)
    company = world.principal(world.company_user)
    course = courses.propose_test_course(
        session, actor=company, now=utcnow(), proposal=CourseProposal(
            test_environment_id=environment.id, solution_profile_id=solution.id,
            title="Exoskelet i hjemmet"))
    [proposal] = told(session, host_user)
    assert proposal.kind == "course_proposed" and proposal.link == f"/test-courses/{course.id}"
    assert told(session, world.company_user) == []
    assert told(session, world.herlev_reviewer) == []

    courses.change_test_course(session, actor=identity_services.staff_principal(host_user),
                               course_id=course.id,
                               changes=CourseChanges(status="declined",
                                                     comment="Ingen plads i år"),
                               now=utcnow())
    [answer] = told(session, world.company_user)
    assert answer.kind == "course_answered" and answer.params["answer"] == "declined"
    [mail] = mail_to(session, world.company_user)
    assert mail.subject == "Svar på forslaget om testforløbet »Exoskelet i hjemmet«: afslået"
    assert len(told(session, host_user)) == 1  # the host is not told of its own answer


# --- jobs, extracts and outputs --------------------------------------------------------------

def _permit(session, world) -> Permit:
    request = AccessRequest(
        company_org_id=world.company.id, submitted_by="test", title="Test", description="Test",
        purpose="company_research", diseases=[], cohort={}, duration_days=90,
        status="permitted")
    session.add(request)
    session.flush()
    now = utcnow()
    permit = Permit(access_request_id=request.id, company_org_id=world.company.id,
                    purpose="company_research",
                    datasets=[{"dataset_id": world.herlev_data.id, "columns": ["sex"]}],
                    cohort={}, duties=[], policy_version="test", approved_at=now,
                    valid_until=now + timedelta(days=90))
    session.add(permit)
    session.flush()
    return permit


def _job(session, world, permit) -> WorkspaceJob:
    job = WorkspaceJob(permit_id=permit.id, company_org_id=world.company.id,
                       name="Genindlæggelser pr. kvartal", script="print(1)",
                       script_sha256="0" * 64,
                       submitted_by=actor_label(world.principal(world.company_user)))
    session.add(job)
    session.flush()
    return job


def test_a_finished_job_tells_whoever_submitted_it(world, session):
    colleague = identity_services.add_user(session, sub="colleague-3", email="e@pulmo.example",
                                           org=world.company, role="company_member")
    job = _job(session, world, _permit(session, world))
    workspace_services.fail_job(session, job_id=job.id, message="the script ended with exit "
                                "code 1", now=utcnow())
    [notice] = told(session, world.company_user)
    assert notice.kind == "job_finished" and notice.params["status"] == "failed"
    assert notice.link == f"/workspace/{job.permit_id}"
    [mail] = mail_to(session, world.company_user)
    assert mail.subject == "Kørslen »Genindlæggelser pr. kvartal« er fejlet"
    assert "exit code" not in mail.body  # the log and its details stay on the platform
    assert told(session, colleague) == []


def test_a_finished_extract_ordered_by_a_system_tells_the_companys_staff(world, session):
    permit = _permit(session, world)
    version = DataVersion(dataset_id=world.herlev_data.id, number=1, status="valid",
                          media_type="text/csv", byte_size=1, report={})
    session.add(version)
    session.flush()
    extract = Extract(permit_id=permit.id, dataset_id=world.herlev_data.id,
                      company_org_id=world.company.id, data_version_id=version.id,
                      data_version_sha256="0" * 64, requested_by="client:pulmo-test:9")
    session.add(extract)
    session.flush()
    delivery_services.fail_extract(session, extract_id=extract.id, now=utcnow(),
                                   message="permit revoked")
    [notice] = told(session, world.company_user)
    assert notice.kind == "extract_finished" and notice.link == f"/extracts/{extract.id}"
    assert told(session, world.rival_user) == []


def test_an_output_sent_back_tells_the_submitter_and_not_the_checkers(world, session):
    checker = identity_services.add_user(session, sub="checker", email="check@herlev.example",
                                         org=world.herlev, role="output_checker")
    job = _job(session, world, _permit(session, world))
    output = WorkspaceOutput(job_id=job.id, permit_id=job.permit_id, name="tabel.csv",
                             byte_size=10, sha256="0" * 64, media_type="text/csv",
                             checks=[], holder_org_ids=[world.herlev.id])
    session.add(output)
    session.flush()
    release.review_output(session, actor=identity_services.staff_principal(checker),
                          output_id=output.id,
                          review=OutputReviewIn(decision="request_changes",
                                                comment="Afrund tallene."),
                          keyring=None, data_dir=None, now=utcnow())  # type: ignore[arg-type]
    [notice] = told(session, world.company_user)
    assert notice.kind == "output_returned"
    assert notice.params == {"name": "Genindlæggelser pr. kvartal",
                             "decision": "changes_requested"}
    [mail] = mail_to(session, world.company_user)
    assert "tabel.csv" not in mail.body and "Afrund" not in mail.body
    assert told(session, checker) == []


def test_the_runner_produces_access_deadline_reminders_once(app, world, submit, session):
    request = submit(world.company_user,
                     application(world.sensitive_data, purpose="company_research"))
    session.commit()
    near = request.current_tasks[0].due_at - timedelta(days=1)
    assert runner.run_reminders(app, now=near) == 1
    assert runner.run_reminders(app, now=near) == 0
    session.expire_all()
    assert len(told(session, world.herlev_reviewer, "review_deadline")) == 1


def test_five_working_days_always_fall_within_the_reminders_calendar_horizon():
    moment = utcnow().replace(year=2024, month=1, day=1, hour=12)
    for day in range(366 * 6):
        start = moment + timedelta(days=day)
        assert sla.add_working_days(start, 5) - start <= notices.CALENDAR_HORIZON
