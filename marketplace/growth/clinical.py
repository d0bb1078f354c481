"""Clinical research projects that already run: they enter the pipeline at Kvalificering with
their evidence, instead of starting again from an idea."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.access import services as access_services
from marketplace.growth import problems
from marketplace.growth.evidence import add_evidence, clinical_facts, output_facts
from marketplace.growth.models import ClinicalProject, Opportunity
from marketplace.growth.opportunities import create_opportunity, is_secretariat
from marketplace.growth.schemas import ClinicalProjectIn, OpportunityIn
from marketplace.identity import services as identity_services
from marketplace.identity.principal import Principal
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput

HOSPITAL_KINDS = ("regional", "national")


def register_clinical_project(session: Session, *, actor: Principal, data: ClinicalProjectIn,
                              now: datetime) -> tuple[ClinicalProject, Opportunity]:
    """Register a running clinical project and its opportunity at Kvalificering.

    The project's own evidence and the released outputs of its permits are linked. Raises
    Forbidden (neither the department's holder admin nor the secretariat; a permit of another
    organisation) or Invalid (unknown department, partner or permit).
    """
    department = identity_services.get_org(session, slug=data.department)
    if department is None or department.kind not in HOSPITAL_KINDS:
        raise problems.invalid_field("department", "{slug} er ikke et hospital eller en region",
                                     slug=data.department)
    staff_of_department = (actor.kind == "staff" and actor.role == "holder_admin"
                           and actor.belongs_to(department.id))
    if not (staff_of_department or is_secretariat(actor)):
        raise problems.forbidden("kliniske projekter registreres af afdelingens "
                                 "dataansvarlige eller af sekretariatet")
    opportunity = create_opportunity(session, actor=actor, stage="kvalificering", now=now,
                                     data=OpportunityIn(
                                         title=data.title, description=data.description,
                                         origin="clinical_project", need_owner=department.slug,
                                         companies=data.company_partners, themes=data.themes))
    allowed = {department.id} | {company.org_id for company in opportunity.companies}
    permit_ids = list(dict.fromkeys(data.permit_ids))
    for index, permit_id in enumerate(permit_ids):
        permit = access_services.get_permit(session, permit_id=permit_id)
        if permit is None or (permit.company_org_id not in allowed and not
                              access_services.can_view_permit(session, permit=permit,
                                                              actor=actor)):
            raise problems.invalid_field(f"permit_ids[{index}]", "tilladelse {id} findes ikke",
                                         id=permit_id)
        if permit.company_org_id not in allowed:
            raise problems.forbidden("tilladelse {id} tilhører en anden organisation",
                                     id=permit_id)
    project = ClinicalProject(
        opportunity_id=opportunity.id, title=data.title, department_org_id=department.id,
        funding_dkk=data.funding_dkk, start=data.start, end=data.end,
        ethics_approval=data.ethics_approval, permit_ids=permit_ids,
        outcomes=[outcome.model_dump() for outcome in data.outcomes],
        registered_by_name=actor.name, created_at=now)
    session.add(project)
    session.flush()
    session.refresh(project, ["department"])
    audit.record_audit(session, actor=actor, action="clinical_project.registered",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"clinical_project_id": project.id, "department": department.slug,
                                "funding_dkk": data.funding_dkk, "permit_ids": permit_ids})
    add_evidence(session, opportunity=opportunity, source="clinical_project",
                 source_id=project.id, facts=clinical_facts(project), actor=actor, now=now)
    if permit_ids:
        released = session.execute(sa.select(WorkspaceOutput, WorkspaceJob).join(
            WorkspaceJob, WorkspaceJob.id == WorkspaceOutput.job_id).where(
            WorkspaceOutput.permit_id.in_(permit_ids), WorkspaceOutput.status == "released")
            .order_by(WorkspaceOutput.id)).all()
        for output, job in released:
            add_evidence(session, opportunity=opportunity, source="output",
                         source_id=output.id, facts=output_facts(output, job), actor=actor,
                         now=now)
    return project, opportunity


def clinical_project_of(session: Session, *, opportunity_id: int) -> ClinicalProject | None:
    return session.scalar(sa.select(ClinicalProject).where(
        ClinicalProject.opportunity_id == opportunity_id))
