"""Evidence behind an opportunity: test courses, clinical projects, released workspace outputs
and statistics results, each checked by its own source and stored with its provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.growth import problems
from marketplace.growth.models import ClinicalProject, Evidence, Opportunity
from marketplace.growth.opportunities import is_secretariat, require_opportunity
from marketplace.identity.principal import Principal
from marketplace.statistics import services as statistics_services
from marketplace.testbeds import services as testbeds_services
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput


@dataclass(frozen=True)
class EvidenceFacts:
    """What a source says about one piece of evidence."""

    title: str
    provenance: dict[str, Any] = field(default_factory=dict)


# (session, actor, opportunity, source id) -> facts; raises a problem when it may not be linked
SourceCheck = Callable[[Session, Principal, Opportunity, int], EvidenceFacts]


def _company_ids(opportunity: Opportunity) -> set[int]:
    return {company.org_id for company in opportunity.companies}


def _test_course(session: Session, actor: Principal, opportunity: Opportunity,
                 source_id: int) -> EvidenceFacts:
    course = testbeds_services.get_test_course(session, course_id=source_id)
    ours = course is not None and course.company_org_id in _company_ids(opportunity)
    if course is None or not (ours or testbeds_services.can_view_course(actor, course)):
        raise problems.invalid_field("id", "testforløb {id} findes ikke", id=source_id)
    if not ours:
        raise problems.forbidden("testforløbets virksomhed deltager ikke i muligheden")
    return EvidenceFacts(course.title, {
        "owner": course.company.name, "environment": course.environment.name_da,
        "status": course.status, "recorded_at": course.status_changed_at.isoformat(),
        "yearly_cost_dkk": course.yearly_cost_dkk, "need": course.procurement_need,
        "value": course.procurement_value, "market": course.procurement_market,
        "outcomes": [{"dimension": o.dimension, "metric": o.metric, "unit": o.unit,
                      "baseline": o.baseline, "result": o.result, "change": o.change,
                      "party": o.party} for o in course.outcomes],
    })


def clinical_facts(project: ClinicalProject) -> EvidenceFacts:
    return EvidenceFacts(project.title, {
        "owner": project.department.name, "funding_dkk": project.funding_dkk,
        "period": [project.start.isoformat(), project.end.isoformat()],
        "ethics_approval": project.ethics_approval, "permit_ids": list(project.permit_ids),
        "recorded_at": project.created_at.isoformat(), "outcomes": list(project.outcomes),
    })


def _clinical_project(session: Session, actor: Principal, opportunity: Opportunity,
                      source_id: int) -> EvidenceFacts:
    project = session.get(ClinicalProject, source_id)
    if project is None:
        raise problems.invalid_field("id", "klinisk projekt {id} findes ikke", id=source_id)
    return clinical_facts(project)


def output_facts(output: WorkspaceOutput, job: WorkspaceJob) -> EvidenceFacts:
    return EvidenceFacts(output.name, {
        "owner_org_id": job.company_org_id, "permit_id": output.permit_id, "job_id": job.id,
        "job": job.name, "sha256": output.sha256, "script_sha256": job.script_sha256,
        "released_at": output.released_at.isoformat() if output.released_at else None,
        "checks": output.checks,
    })


def _output(session: Session, actor: Principal, opportunity: Opportunity,
            source_id: int) -> EvidenceFacts:
    row = session.execute(sa.select(WorkspaceOutput, WorkspaceJob).join(
        WorkspaceJob, WorkspaceJob.id == WorkspaceOutput.job_id).where(
        WorkspaceOutput.id == source_id)).first()
    own = row is not None and actor.belongs_to(row[1].company_org_id)
    vouched = (row is not None and is_secretariat(actor)
               and row[1].company_org_id in _company_ids(opportunity))
    if row is None or not (own or vouched):
        raise problems.invalid_field("id", "output {id} findes ikke", id=source_id)
    output, job = row
    if output.status != "released":
        raise problems.conflict("kun frigivne output kan bruges som evidens")
    return output_facts(output, job)


def _statistics(session: Session, actor: Principal, opportunity: Opportunity,
                source_id: int) -> EvidenceFacts:
    found = statistics_services.get_statistics_request(session, request_id=source_id)
    own = found is not None and actor.belongs_to(found.company_org_id)
    vouched = (found is not None and is_secretariat(actor)
               and found.company_org_id in _company_ids(opportunity))
    if found is None or not (own or vouched):
        raise problems.invalid_field("id", "statistikresultat {id} findes ikke", id=source_id)
    if found.status != "released" or found.released_at is None:
        raise problems.conflict("kun frigivne statistikresultater kan bruges som evidens")
    return EvidenceFacts(found.title, {
        "owner_org_id": found.company_org_id, "dataset_id": found.dataset_id,
        "purpose": found.purpose, "measures": list(found.measures),
        "group_by": list(found.group_by), "method": found.method,
        "released_at": found.released_at.isoformat(),
        "manifest_sha256": (found.manifest or {}).get("sha256"),
    })


SOURCES: dict[str, SourceCheck] = {
    "test_course": _test_course,
    "clinical_project": _clinical_project,
    "output": _output,
    "statistics": _statistics,
}


def add_evidence(session: Session, *, opportunity: Opportunity, source: str, source_id: int,
                 facts: EvidenceFacts, actor: Principal, now: datetime) -> Evidence:
    evidence = Evidence(opportunity_id=opportunity.id, source=source, source_id=source_id,
                        title=facts.title[:300], provenance=facts.provenance,
                        added_by_name=actor.name, added_at=now)
    session.add(evidence)
    session.flush()
    audit.record_audit(session, actor=actor, action="evidence.linked",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"source": source, "id": source_id, "evidence_id": evidence.id})
    return evidence


def link_evidence(session: Session, *, actor: Principal, opportunity_id: int, source: str,
                  source_id: int, now: datetime) -> Evidence:
    """Link a piece of evidence; raises Forbidden (someone else's), Conflict (not released,
    already linked), Invalid (no such source object) or NotFound."""
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if not (is_secretariat(actor) or actor.belongs_to(opportunity.registered_by_org_id)
            or actor.org_id in _company_ids(opportunity)
            or actor.belongs_to(opportunity.need_owner_org_id)):
        raise problems.forbidden("kun mulighedens parter og sekretariatet kan tilføje evidens")
    facts = SOURCES[source](session, actor, opportunity, source_id)
    if session.scalar(sa.select(Evidence.id).where(
            Evidence.opportunity_id == opportunity.id, Evidence.source == source,
            Evidence.source_id == source_id)) is not None:
        raise problems.conflict("evidensen er allerede koblet til muligheden")
    opportunity.updated_at = now
    return add_evidence(session, opportunity=opportunity, source=source, source_id=source_id,
                        facts=facts, actor=actor, now=now)
