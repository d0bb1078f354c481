"""Test courses: proposal, the moves of their life cycle, outcomes on the effect dimensions,
and the figures they give the key figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.notifications import services as notifications
from marketplace.notifications.kinds import COMPANY, HOSTS
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
    """Return a course the actor may see; raises NotFound (also for a course the actor may not
    see: its id does not reveal that it exists)."""
    course = get_test_course(session, course_id=course_id)
    if course is None or not can_view_course(actor, course):
        raise NotFound("testforløb {id} findes ikke", id=course_id)
    return course


def require_course_for_access(session: Session, *, course_id: int,
                              company_org_id: int) -> TestCourse:
    """The test course an access application says it serves.

    Raises NotFound (also for another company's course) or Conflict (declined or finished:
    data for a test is only granted while the course lies ahead or runs).
    """
    course = get_test_course(session, course_id=course_id)
    if course is None or course.company_org_id != company_org_id:
        raise NotFound("testforløb {id} findes ikke", id=course_id)
    if course.status not in ("proposed", "agreed", "running"):
        raise Conflict("testforløbet er afsluttet; data gives kun til åbne forløb")
    return course


def list_open_courses(session: Session, *, company_org_id: int) -> list[TestCourse]:
    """The company's courses a data application may serve (proposed, agreed or running)."""
    return list(session.scalars(sa.select(TestCourse).where(
        TestCourse.company_org_id == company_org_id,
        TestCourse.status.in_(("proposed", "agreed", "running"))).order_by(TestCourse.id.desc())))


def list_test_courses(session: Session, *, actor: Principal,
                      status: str | None = None) -> list[TestCourse]:
    """The courses the actor may see: its company's, its environments', finished ones for buyers."""
    if status is not None and status not in lifecycle.STATUS_LABELS:
        raise Invalid.field("status", N_("ukendt status {status}"), status=status)
    if not actor.is_authenticated or actor.kind == "citizen":
        raise Forbidden("testforløb er for virksomheder, værter og offentlige købere")
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
        raise Conflict("løsningen har allerede testforløb {course} i "
                       "testmiljøet", course=open_course)
    course = TestCourse(environment=environment, company_org_id=solution.company_org_id,
                        solution=solution, status="proposed", status_changed_at=now, **clean)
    session.add(course)
    log_course_event(session, course, actor=actor, from_status=None, to_status="proposed",
                     comment="", now=now)
    session.flush()
    notifications.notify(
        session, kind="course_proposed",
        audience=notifications.members(*sorted(environment.host_org_ids), roles=HOSTS,
                                       actor=actor),
        params={"title": course.title}, link=f"/test-courses/{course.id}")
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
        raise Forbidden("kun virksomheden og værterne kan ændre et testforløb")
    comment = changes.comment or ""
    plan = changes.plan()
    if plan and (party != "company" or course.status != "proposed"):
        raise Conflict("virksomheden kan kun ændre planen, mens forløbet er foreslået")
    dossier_fields = changes.dossier_fields()
    if dossier_fields and (course.status not in PROCUREMENT_INPUTS_OPEN or course.procurement):
        raise Conflict("input til indkøb gives, mens et forløb kører eller efter det, indtil et "
                       "indkøb er startet")
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
            notifications.notify(
                session, kind="course_answered",
                audience=notifications.members(course.company_org_id, roles=COMPANY,
                                               actor=actor),
                params={"title": course.title, "answer": target},
                link=f"/test-courses/{course.id}")
        course.status, course.status_changed_at = target, now
    session.flush()
    return course


def _check_move(session: Session, course: TestCourse, *, target: str, party: str,
                now: datetime) -> None:
    problem = lifecycle.transition_problem(course.status, target, party=party)
    if problem is not None:
        if problem.kind == "party":
            raise Forbidden(problem.template, **problem.values)
        if problem.kind == "unknown":
            raise Invalid.field("status", problem.template, **problem.values)
        raise Conflict(problem.template, **problem.values)
    if target == "agreed":
        # Two hosts agreeing at once must not both take the last slot.
        session.execute(sa.select(TestEnvironment.id)
                        .where(TestEnvironment.id == course.environment_id).with_for_update())
    if target == "agreed" and free_slots(session, now=now).get(course.environment_id, 0) <= 0:
        raise Conflict("testmiljøet har ingen ledige pladser i år")
    if target == "evaluated" and not course.outcomes:
        raise Conflict("registrér mindst ét resultat på effektdimensionerne, før forløbet "
                       "evalueres")


def require_open_for_outcomes(course: TestCourse, actor: Principal) -> str:
    party = party_of(actor, course)
    if party is None:
        raise Forbidden("kun virksomheden og værterne registrerer resultater")
    if course.status not in lifecycle.OUTCOMES_OPEN:
        raise Conflict("resultater og evidens tilføjes, mens et forløb kører, eller når det er "
                       "afsluttet")
    return party


OUTCOME_FIELDS = ("metric", "unit", "baseline", "result", "better", "note")


def record_outcome(session: Session, *, actor: Principal, course_id: int,
                   report: OutcomeReport) -> TestOutcome:
    """Record the actor's side's outcome on one effect dimension, or correct the one it gave.

    A correction is audited with the values before and after; once the course is evaluated a
    correction needs a `reason`, because buyers may already rely on the dossier. Raises
    NotFound, Forbidden, Conflict (course not running/completed, or a new outcome on an
    evaluated course) or Invalid (a correction of an evaluated course without a reason).
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    party = party_of(actor, course)
    if party is None:
        raise Forbidden("kun virksomheden og værterne registrerer resultater")
    dimension = report.dimension
    better = report.better or lifecycle.EFFECT_DIMENSIONS[dimension].better
    outcome = next((o for o in course.outcomes
                    if o.dimension == dimension and o.party == party), None)
    _check_outcome_open(course, correcting=outcome is not None)
    if outcome is not None and course.status == "evaluated" and not report.reason:
        raise Invalid.field("reason", N_("forklar, hvorfor resultatet rettes"))
    before = _outcome_values(outcome) if outcome is not None else None
    if outcome is None:
        outcome = TestOutcome(course=course, dimension=dimension, party=party,
                              recorded_by_org_id=actor.org_id or course.company_org_id)
        session.add(outcome)
    outcome.metric, outcome.unit, outcome.note = report.metric, report.unit, report.note
    outcome.baseline, outcome.result, outcome.better = report.baseline, report.result, better
    after = _outcome_values(outcome)
    if before != after:
        audit.record_audit(
            session, actor=actor,
            action="test_course.outcome_corrected" if before else "test_course.outcome_recorded",
            subject_type="test_course", subject_id=str(course.id),
            details={"dimension": dimension, "party": party, "before": before, "after": after,
                     "reason": report.reason, "course_status": course.status})
    session.flush()
    return outcome


def _check_outcome_open(course: TestCourse, *, correcting: bool) -> None:
    if course.status in lifecycle.OUTCOMES_OPEN or (correcting and course.status == "evaluated"):
        return
    raise Conflict("resultater tilføjes, mens et forløb kører eller er afsluttet, og rettes, "
                   "indtil det er evalueret, ikke når det er {status}",
                   status=course.status)


def _outcome_values(outcome: TestOutcome) -> dict[str, Any]:
    return {name: getattr(outcome, name) for name in OUTCOME_FIELDS}


def outcome_corrections(session: Session, *, course: TestCourse) -> list[audit.AuditEntry]:
    """The audited corrections of a course's outcomes, oldest first."""
    return [entry for entry in audit.audit_trail(session, subject_type="test_course",
                                                 subject_id=str(course.id))
            if entry.action == "test_course.outcome_corrected"]


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
