"""Test courses: proposal, the moves of their life cycle, outcomes on the effect dimensions,
and the figures they give the key figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.testbeds import lifecycle
from marketplace.testbeds.commands import CourseChanges, CourseProposal, OutcomeReport
from marketplace.testbeds.environments import (
    free_slots,
    hosted_environment_ids,
    hosts_environment,
    require_test_environment,
)
from marketplace.testbeds.models import (
    Procurement,
    TestCourse,
    TestCourseEvent,
    TestEnvironment,
    TestEnvironmentHost,
    TestOutcome,
)
from marketplace.testbeds.solutions import require_company, require_solution_profile

# Test courses -----------------------------------------------------------------------------------


def get_test_course(session: Session, *, course_id: int) -> TestCourse | None:
    return session.get(TestCourse, course_id)


def is_public_buyer(actor: Principal) -> bool:
    """Staff of a national, regional or municipal body: the ones who buy after a test."""
    return actor.kind == "staff" and actor.org_kind in ("national", "regional", "municipal")


def party_of(actor: Principal, course: TestCourse) -> str | None:
    """The actor's side in a course: "company", "host" or None."""
    if actor.belongs_to(course.company_org_id):
        return "company"
    if hosts_environment(actor, course.environment):
        return "host"
    return None


def can_view_course(actor: Principal, course: TestCourse) -> bool:
    if party_of(actor, course) is not None:
        return True
    # Buyers see finished courses: their evidence is what procurement needs.
    return is_public_buyer(actor) and course.status in lifecycle.DOSSIER_READY


def require_test_course(session: Session, *, actor: Principal, course_id: int) -> TestCourse:
    """Return a course the actor may see; raises NotFound or Forbidden."""
    course = get_test_course(session, course_id=course_id)
    if course is None:
        raise NotFound(f"test course {course_id} does not exist")
    if not can_view_course(actor, course):
        raise Forbidden("this test course belongs to another company and environment")
    return course


def require_course_for_access(session: Session, *, course_id: int,
                              company_org_id: int) -> TestCourse:
    """The test course an access application says it serves.

    Raises NotFound, Forbidden (another company's course) or Conflict (declined or finished:
    data for a test is only granted while the course lies ahead or runs).
    """
    course = get_test_course(session, course_id=course_id)
    if course is None:
        raise NotFound(f"test course {course_id} does not exist")
    if course.company_org_id != company_org_id:
        raise Forbidden("the test course belongs to another company")
    if course.status not in ("proposed", "agreed", "running"):
        raise Conflict(f"the test course is {course.status}; data serves open courses only")
    return course


def list_test_courses(session: Session, *, actor: Principal,
                      status: str | None = None) -> list[TestCourse]:
    """The courses the actor may see: its company's, its environments', finished ones for buyers."""
    if status is not None and status not in lifecycle.STATUS_LABELS:
        raise Invalid.field("status", f"unknown status {status}")
    if not actor.is_authenticated or actor.kind == "citizen":
        raise Forbidden("test courses are for companies, hosts and public buyers")
    query = sa.select(TestCourse).order_by(TestCourse.id.desc())
    if status:
        query = query.where(TestCourse.status == status)
    if not actor.is_operator:
        visible = [TestCourse.company_org_id == actor.org_id]
        hosted = hosted_environment_ids(session, actor=actor)
        if hosted:
            visible.append(TestCourse.environment_id.in_(hosted))
        if is_public_buyer(actor):
            visible.append(TestCourse.status.in_(lifecycle.DOSSIER_READY))
        query = query.where(sa.or_(*visible))
    return list(session.scalars(query))


def log_course_event(session: Session, course: TestCourse, *, actor: Principal,
                     from_status: str | None, to_status: str, comment: str,
                     now: datetime) -> None:
    session.add(TestCourseEvent(course=course, from_status=from_status, to_status=to_status,
                                actor_org_id=actor.org_id, actor_name=actor.name,
                                comment=comment, at=now))


def propose_test_course(session: Session, *, actor: Principal, proposal: CourseProposal,
                        now: datetime) -> TestCourse:
    """Propose a test course of the company's solution in an environment.

    Raises Forbidden (not the solution's company), NotFound, or Conflict when the same
    solution already has an open proposal there.
    """
    require_company(actor)
    solution = require_solution_profile(session, actor=actor,
                                        profile_id=proposal.solution_profile_id)
    environment = require_test_environment(session, environment_id=proposal.test_environment_id)
    clean = proposal.plan()
    open_course = session.scalars(sa.select(TestCourse.id).where(
        TestCourse.environment_id == environment.id,
        TestCourse.solution_profile_id == solution.id,
        TestCourse.status.in_(("proposed", "agreed", "running")),
    )).first()
    if open_course is not None:
        raise Conflict(f"this solution already has test course {open_course} in the environment")
    course = TestCourse(environment=environment, company_org_id=solution.company_org_id,
                        solution=solution, status="proposed", status_changed_at=now, **clean)
    session.add(course)
    log_course_event(session, course, actor=actor, from_status=None, to_status="proposed",
                     comment="", now=now)
    session.flush()
    return course


PROCUREMENT_INPUTS_OPEN = frozenset({"running", "completed", "evaluated"})


def change_test_course(session: Session, *, actor: Principal, course_id: int,
                       changes: CourseChanges, now: datetime) -> TestCourse:
    """Move a course on (`status`, `comment`), edit its plan or its procurement fields.

    Everything is checked before anything changes. Raises NotFound, Forbidden (not a party, or
    a move only the host may make), Invalid (an unknown status) or Conflict (a move
    backwards, a skipped state, no free slot, evaluation without outcomes).
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    party = party_of(actor, course)
    if party is None:
        raise Forbidden("only the company and the hosts change a test course")
    comment = changes.comment or ""
    plan = changes.plan()
    if plan and (party != "company" or course.status != "proposed"):
        raise Conflict("the company can change the plan only while the course is proposed")
    dossier_fields = changes.dossier_fields()
    if dossier_fields and (course.status not in PROCUREMENT_INPUTS_OPEN or course.procurement):
        raise Conflict("procurement inputs are given while a course runs or after it, until a "
                       "procurement has started")
    target = changes.status
    if target is not None:
        _check_move(session, course, target=target, party=party, now=now)
    for name, value in {**plan, **dossier_fields}.items():
        setattr(course, name, value)
    if target is not None:
        log_course_event(session, course, actor=actor, from_status=course.status,
                         to_status=target, comment=comment, now=now)
        audit.record_audit(
            session, actor=actor, action=f"test_course.{target}", subject_type="test_course",
            subject_id=str(course.id),
            details={"from": course.status, "environment_id": course.environment_id,
                     "company_org_id": course.company_org_id},
        )
        if target in ("agreed", "declined"):
            course.decision_comment = comment
        course.status, course.status_changed_at = target, now
    session.flush()
    return course


def _check_move(session: Session, course: TestCourse, *, target: str, party: str,
                now: datetime) -> None:
    problem = lifecycle.transition_problem(course.status, target, party=party)
    if problem is not None:
        if problem.kind == "party":
            raise Forbidden(problem.message)
        if problem.kind == "unknown":
            raise Invalid.field("status", problem.message)
        raise Conflict(problem.message)
    if target == "agreed":
        # Two hosts agreeing at once must not both take the last slot.
        session.execute(sa.select(TestEnvironment.id)
                        .where(TestEnvironment.id == course.environment_id).with_for_update())
    if target == "agreed" and free_slots(session, now=now).get(course.environment_id, 0) <= 0:
        raise Conflict("the environment has no free slots this year")
    if target == "evaluated" and not course.outcomes:
        raise Conflict("record at least one outcome on the effect dimensions before evaluating")


def require_open_for_outcomes(course: TestCourse, actor: Principal) -> str:
    party = party_of(actor, course)
    if party is None:
        raise Forbidden("only the company and the hosts record outcomes")
    if course.status not in lifecycle.OUTCOMES_OPEN:
        raise Conflict(f"outcomes and evidence are added while a course runs or is completed, "
                       f"not when it is {course.status}")
    return party


def record_outcome(session: Session, *, actor: Principal, course_id: int,
                   report: OutcomeReport) -> TestOutcome:
    """Record (or replace) the actor's side's outcome on one effect dimension.

    Raises NotFound, Forbidden or Conflict (course not running/completed).
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    party = require_open_for_outcomes(course, actor)
    dimension = report.dimension
    better = report.better or lifecycle.EFFECT_DIMENSIONS[dimension].better
    outcome = next((o for o in course.outcomes
                    if o.dimension == dimension and o.party == party), None)
    if outcome is None:
        outcome = TestOutcome(course=course, dimension=dimension, party=party,
                              recorded_by_org_id=actor.org_id or course.company_org_id)
        session.add(outcome)
    outcome.metric, outcome.unit, outcome.note = report.metric, report.unit, report.note
    outcome.baseline, outcome.result, outcome.better = report.baseline, report.result, better
    session.flush()
    return outcome


# Figures for the KPIs -----------------------------------------------------------------------


@dataclass(frozen=True)
class CourseFigures:
    """What the test courses contribute to the cluster's key figures."""

    courses_by_status: dict[str, int]
    municipalities_involved: int
    hospitals_involved: int
    foreign_companies: int
    procurements: int


def course_figures(session: Session) -> CourseFigures:
    """Courses per status, the municipalities, hospitals and foreign companies involved, and
    the procurements started, from the platform's records."""
    agreed = TestCourse.status.in_(lifecycle.AGREED_OR_LATER)
    by_status: dict[str, int] = {status: count for status, count in session.execute(
        sa.select(TestCourse.status, sa.func.count()).group_by(TestCourse.status))}
    involved_hosts = session.execute(
        sa.select(TestEnvironmentHost.sector, TestEnvironmentHost.org_id).distinct()
        .join(TestCourse, TestCourse.environment_id == TestEnvironmentHost.environment_id)
        .where(agreed)
    ).all()
    buyers = session.execute(
        sa.select(Organisation.kind, Organisation.id).join(
            Procurement, Procurement.buyer_org_id == Organisation.id)
    ).all()
    municipalities = {org for sector, org in involved_hosts if sector == "municipality"}
    municipalities |= {org for kind, org in buyers if kind == "municipal"}
    hospitals = {org for sector, org in involved_hosts if sector == "hospital"}
    foreign = session.scalar(
        sa.select(sa.func.count(sa.distinct(TestCourse.company_org_id)))
        .join(Organisation, Organisation.id == TestCourse.company_org_id)
        .where(agreed, Organisation.country != "DK")
    ) or 0
    procurements = session.scalar(sa.select(sa.func.count()).select_from(Procurement)) or 0
    return CourseFigures(courses_by_status=by_status,
                         municipalities_involved=len(municipalities),
                         hospitals_involved=len(hospitals), foreign_companies=foreign,
                         procurements=procurements)
