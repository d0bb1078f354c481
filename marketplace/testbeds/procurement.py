"""The procurement dossier of a test course and the start of an innovative procurement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.identity.principal import Principal
from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import lifecycle
from marketplace.testbeds.commands import MAX_TEXT
from marketplace.testbeds.courses import is_public_buyer, require_test_course
from marketplace.testbeds.models import (
    Procurement,
    TestCourse,
)

# Procurement dossier ----------------------------------------------------------------------------


def build_dossier(session: Session, *, actor: Principal, course_id: int,
                  now: datetime) -> dossiers.Dossier:
    """The procurement dossier of a completed or evaluated course; raises NotFound,
    Forbidden or Conflict (the course has not finished)."""
    course = require_test_course(session, actor=actor, course_id=course_id)
    if course.status not in lifecycle.DOSSIER_READY:
        raise Conflict("et indkøbsdossier findes, når testforløbet er afsluttet")
    return _dossier_of(course, generated_at=now)


def _dossier_of(course: TestCourse, *, generated_at: datetime) -> dossiers.Dossier:
    solution, environment = course.solution, course.environment
    procurement = course.procurement
    return dossiers.Dossier(
        course_id=course.id, title=course.title, status=course.status, goal=course.goal,
        company_name=course.company.name, company_country=course.company.country,
        solution_name=solution.name, solution_description=solution.description,
        themes=tuple(solution.themes), target_groups=tuple(solution.target_groups),
        trl=solution.trl, environment_name_da=environment.name_da,
        environment_name_en=environment.name_en,
        hosts=tuple(host.org.name for host in environment.hosts),
        planned_start=course.planned_start, planned_end=course.planned_end,
        participants_planned=course.participants_planned,
        yearly_cost_dkk=course.yearly_cost_dkk, need=course.procurement_need,
        value=course.procurement_value, market=course.procurement_market,
        generated_at=generated_at,
        outcomes=tuple(
            dossiers.DossierOutcome(
                dimension=o.dimension, party=o.party, metric=o.metric, unit=o.unit,
                baseline=o.baseline, result=o.result, change=o.change, note=o.note,
            )
            for o in course.outcomes
        ),
        evidence=tuple(
            dossiers.DossierEvidence(
                id=e.id, filename=e.filename, content_type=e.content_type,
                size_bytes=e.size_bytes, sha256=e.sha256, dimension=e.dimension,
            )
            for e in course.evidence
        ),
        timeline=tuple((event.to_status, event.at.date()) for event in course.events),
        procurement=dossiers.DossierProcurement(
            buyer=procurement.buyer.name, started_at=procurement.started_at
        ) if procurement else None,
    )


def start_procurement(session: Session, *, actor: Principal, course_id: int, note: str,
                      now: datetime) -> Procurement:
    """Record that a public buyer starts an innovative procurement based on a test course.

    Raises Forbidden (not staff of a public body), Conflict (not finished, already started)
    or Invalid.
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    if not is_public_buyer(actor) and not actor.is_operator:
        raise Forbidden("indkøb startes af en kommune, en region eller en national myndighed")
    if course.status not in lifecycle.DOSSIER_READY:
        raise Conflict("et indkøb kan starte, når testforløbet er afsluttet")
    if course.procurement is not None:
        raise Conflict("der er allerede startet et indkøb for testforløbet")
    clean_note = note.strip()
    if len(clean_note) > MAX_TEXT:
        raise Invalid.field("note", "højst {max_length} tegn", max_length=MAX_TEXT)
    buyer_id = actor.org_id
    if buyer_id is None:
        raise Forbidden("indkøb startes på vegne af en organisation")
    procurement = Procurement(course=course, buyer_org_id=buyer_id, started_by_name=actor.name,
                              note=clean_note, started_at=now)
    session.add(procurement)
    audit.record_audit(
        session, actor=actor, action="procurement.started", subject_type="test_course",
        subject_id=str(course.id), details={"buyer_org_id": buyer_id},
    )
    session.flush()
    return procurement
