"""Procurement cases: opened for an opportunity in Eksekvering on the procurement track,
completed step by step by the buyer, handed over as a page, a PDF and JSON."""

from __future__ import annotations

import copy
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.growth import problems, procurement
from marketplace.growth.models import ProcurementCase
from marketplace.growth.opportunities import (
    PUBLIC_KINDS,
    is_cluster,
    is_secretariat,
    require_member,
    require_opportunity,
    storable_id,
)
from marketplace.growth.schemas import MAX_YEARLY_COST_DKK, ProcurementCaseIn, StepIn
from marketplace.identity import services as identity_services
from marketplace.identity.principal import Principal
from marketplace.languages import N_


def open_case(session: Session, *, actor: Principal, opportunity_id: int,
              data: ProcurementCaseIn, now: datetime) -> ProcurementCase:
    """Open the six-step case, pre-filled from the opportunity's evidence.

    Raises Conflict (not in Eksekvering, not on the procurement track, a case already open),
    Forbidden (neither the buyer nor the secretariat) or Invalid (the buyer is no public body).
    """
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if opportunity.stage != "eksekvering":
        raise problems.conflict("en indkøbssag kræver, at muligheden er i eksekvering")
    if "procurement" not in (opportunity.tracks or []):
        raise problems.conflict("muligheden er ikke på sporet innovativt indkøb")
    slug = data.buyer
    if slug is None:
        if opportunity.need_owner is None:
            raise problems.invalid_field("buyer", "angiv køberen: muligheden har ingen "
                                         "behovsejer")
        buyer = opportunity.need_owner
    else:
        found = identity_services.get_org(session, slug=slug)
        if found is None or found.kind not in PUBLIC_KINDS:
            raise problems.invalid_field("buyer", "{slug} er ikke en offentlig køber",
                                         slug=slug)
        buyer = found
    if not (is_secretariat(actor) or actor.belongs_to(buyer.id)):
        raise problems.forbidden("indkøbssagen oprettes af køberen eller sekretariatet")
    if session.scalar(sa.select(ProcurementCase.id).where(
            ProcurementCase.opportunity_id == opportunity.id)) is not None:
        raise problems.conflict("muligheden har allerede en indkøbssag")
    facts = procurement.CaseFacts(
        title=opportunity.title, description=opportunity.description,
        need_owner=opportunity.need_owner.name if opportunity.need_owner else None,
        buyer_kind=buyer.kind, companies=[c.org.name for c in opportunity.companies],
        kpis=opportunity.kpis or {}, tracks=opportunity.tracks or [],
        yearly_cost_dkk=data.yearly_cost_dkk,
        evidence=[procurement.EvidenceItem(e.source, e.source_id, e.title, e.provenance or {})
                  for e in opportunity.evidence])
    steps = procurement.prefill_steps(facts)
    case = ProcurementCase(opportunity_id=opportunity.id, buyer_org_id=buyer.id,
                           yearly_cost_dkk=data.yearly_cost_dkk,
                           route=procurement.current_route(steps), steps=steps,
                           created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    audit.record_audit(session, actor=actor, action="procurement_case.opened",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"case_id": case.id, "buyer": buyer.slug,
                                "yearly_cost_dkk": data.yearly_cost_dkk, "route": case.route})
    return case


def _is_party(actor: Principal, case: ProcurementCase) -> bool:
    opportunity = case.opportunity
    parties = ({case.buyer_org_id, opportunity.registered_by_org_id,
                opportunity.need_owner_org_id} | {c.org_id for c in opportunity.companies})
    return is_cluster(actor) or actor.org_id in parties or actor.is_operator


def require_case(session: Session, *, actor: Principal, case_id: int) -> ProcurementCase:
    """A case the actor may read: the buyer's, the opportunity's parties' and the cluster's."""
    require_member(actor)
    case = session.get(ProcurementCase, case_id) if storable_id(case_id) else None
    if case is None or not _is_party(actor, case):  # another's id does not reveal it exists
        raise problems.not_found("indkøbssag {id} findes ikke", id=case_id)
    return case


def complete_step(session: Session, *, actor: Principal, case_id: int, step: str,
                  data: StepIn, now: datetime) -> ProcurementCase:
    """The buyer fills in or completes one step; the procedure is re-chosen from the result.

    Raises Forbidden (not the buyer), Invalid (an unknown field or a value of the wrong kind).
    """
    case = require_case(session, actor=actor, case_id=case_id)
    if not actor.belongs_to(case.buyer_org_id):
        raise problems.forbidden("kun køberen udfylder indkøbssagens trin")
    allowed = procurement.STEP_FIELDS[step]
    errors: list[tuple[str, str, dict[str, object]]] = []
    for name, value in data.fields.items():
        kind = allowed.get(name)
        if kind is None or (step == "procedure" and name == "route"):
            errors.append((f"fields.{name}", N_("kendes ikke i dette trin"), {}))
        elif kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            errors.append((f"fields.{name}", "skal være et helt tal", {}))
        elif kind == "int" and not 0 <= value <= MAX_YEARLY_COST_DKK:
            errors.append((f"fields.{name}", N_("skal ligge mellem 0 og {high}"),
                           {"high": MAX_YEARLY_COST_DKK}))
        elif kind == "bool" and not isinstance(value, bool):
            errors.append((f"fields.{name}", N_("skal være sand eller falsk"), {}))
        elif kind == "text" and not isinstance(value, str):
            errors.append((f"fields.{name}", N_("skal være tekst"), {}))
    if errors:
        raise problems.invalid(errors)
    steps = copy.deepcopy(case.steps)
    entry = next(item for item in steps if item["key"] == step)
    entry["fields"] = {**entry["fields"], **data.fields}
    entry["status"] = data.status
    if step == "investment" and "yearly_cost_dkk" in data.fields:
        case.yearly_cost_dkk = int(data.fields["yearly_cost_dkk"])
    steps = procurement.route_steps(steps, case.buyer.kind, case.opportunity.tracks or [])
    case.steps = steps
    case.route = procurement.current_route(steps)
    case.updated_at = now
    session.flush()
    audit.record_audit(session, actor=actor, action="procurement_case.step",
                       subject_type="opportunity", subject_id=str(case.opportunity_id),
                       details={"case_id": case.id, "step": step, "status": data.status,
                                "fields": sorted(data.fields), "route": case.route})
    return case


def case_of(session: Session, *, opportunity_id: int) -> ProcurementCase | None:
    return session.scalar(sa.select(ProcurementCase).where(
        ProcurementCase.opportunity_id == opportunity_id))
