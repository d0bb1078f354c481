"""Gates: the secretariat's recommendations, the steering group's decisions, revivals and the
plan set at Koncept og plan. Every change is written to the audit chain."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.growth import problems, stages
from marketplace.growth.models import SIDE_STATES, GateDecision, Opportunity, Recommendation
from marketplace.growth.opportunities import (
    can_edit,
    is_secretariat,
    is_steering_group,
    require_opportunity,
)
from marketplace.growth.schemas import GateDecisionIn, PlanIn, RecommendationIn, ReviveIn
from marketplace.growth.screening import ScreeningModel, score
from marketplace.identity.principal import Principal
from marketplace.notifications import services as notifications
from marketplace.notifications.kinds import GROWTH


def _raise_move(problem: stages.MoveProblem, field: str) -> None:
    if problem.kind == "conflict":
        raise problems.conflict(problem.message, **problem.values)
    raise problems.invalid_field(field, problem.message, **problem.values)


def open_recommendation(session: Session, *, opportunity: Opportunity) -> Recommendation | None:
    """The latest recommendation still awaiting a gate decision."""
    return session.scalar(sa.select(Recommendation).where(
        Recommendation.opportunity_id == opportunity.id, Recommendation.decided.is_(False))
        .order_by(Recommendation.id.desc()).limit(1))


def recommend(session: Session, *, actor: Principal, opportunity_id: int,
              data: RecommendationIn, model: ScreeningModel, now: datetime) -> Recommendation:
    """Record the secretariat's recommendation with its scorecard.

    Raises Forbidden (not the secretariat), Conflict (a skipped stage, a parked or stopped
    opportunity, a recommendation already awaiting decision) or Invalid (scores off the scale).
    """
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if not is_secretariat(actor) or actor.org_id is None:
        raise problems.forbidden("kun klyngens sekretariat kan indstille")
    problem = stages.recommendation_problem(opportunity.stage, data.to_stage)
    if problem:
        _raise_move(problem, "to_stage")
    if open_recommendation(session, opportunity=opportunity) is not None:
        raise problems.conflict("der ligger allerede en indstilling, som venter på "
                                "styregruppens beslutning")
    card = score(model, scores=data.scores, must_meet=data.must_meet, reasons=data.reasons,
                 to_stage=data.to_stage)
    if card.errors:
        raise problems.invalid(list(card.errors))
    recommendation = Recommendation(
        opportunity_id=opportunity.id, from_stage=opportunity.stage, to_stage=data.to_stage,
        text=data.text, model_version=card.model_version, scores=card.scores,
        must_meet=card.must_meet, total=card.total, knocked_out=card.knocked_out,
        by_org_id=actor.org_id, by_name=actor.name, at=now)
    session.add(recommendation)
    opportunity.updated_at = now
    session.flush()
    audit.record_audit(session, actor=actor, action="gate.recommended",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"recommendation_id": recommendation.id,
                                "from_stage": opportunity.stage, "to_stage": data.to_stage,
                                "model_version": card.model_version, "total": card.total,
                                "knocked_out": card.knocked_out})
    return recommendation


def _may_decide(actor: Principal, model: ScreeningModel, to_stage: str) -> bool:
    roles = model.deciders(to_stage) if to_stage not in SIDE_STATES else ("steering_group",)
    return ((is_steering_group(actor) and "steering_group" in roles)
            or (actor.kind == "staff" and is_secretariat(actor) and "secretariat" in roles))


def decide(session: Session, *, actor: Principal, opportunity_id: int, data: GateDecisionIn,
           model: ScreeningModel, now: datetime) -> GateDecision:
    """Record a gate decision and move the opportunity.

    Raises Forbidden (not the steering group, or the secretariat where the model does not let
    it decide), Conflict (no recommendation, a skipped stage, a knock-out, no plan before
    execution) or Invalid (a decision that does not lead to `to_stage`).
    """
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if not _may_decide(actor, model, data.to_stage) or actor.org_id is None:
        raise problems.forbidden("kun styregruppen kan træffe beslutning ved denne port")
    target = stages.decision_target(opportunity.stage, decision=data.decision,
                                    to_stage=data.to_stage)
    if isinstance(target, stages.MoveProblem):
        _raise_move(target, "to_stage")
        raise AssertionError  # unreachable: _raise_move always raises
    recommendation = open_recommendation(session, opportunity=opportunity)
    if recommendation is None:
        raise problems.conflict("en beslutning kræver en indstilling fra sekretariatet")
    if data.decision == "go" and recommendation.knocked_out:
        raise problems.conflict("indstillingen opfylder ikke alle skal-kriterier; muligheden "
                                "kan ikke gå videre")
    if target == "eksekvering" and not (opportunity.kpis and opportunity.tracks):
        raise problems.conflict("sæt mål pr. effektdimension og vælg spor i Koncept og plan, "
                                "før muligheden går i eksekvering")
    from_stage = opportunity.stage
    decision = GateDecision(
        opportunity_id=opportunity.id, recommendation_id=recommendation.id,
        from_stage=from_stage, to_stage=target, decision=data.decision, minutes=data.minutes,
        by_org_id=actor.org_id, by_name=actor.name, at=now)
    session.add(decision)
    recommendation.decided = True
    if target in SIDE_STATES:
        opportunity.paused_from = from_stage
    opportunity.stage = target
    opportunity.updated_at = now
    session.flush()
    audit.record_audit(session, actor=actor, action="gate.decided", subject_type="opportunity",
                       subject_id=str(opportunity.id),
                       details={"decision_id": decision.id, "decision": data.decision,
                                "from_stage": from_stage, "to_stage": target,
                                "recommendation_id": recommendation.id})
    notifications.notify(
        session, kind="gate_decided",
        audience=notifications.members(
            *[company.org_id for company in opportunity.companies],
            opportunity.need_owner_org_id, opportunity.registered_by_org_id,
            recommendation.by_org_id, roles=GROWTH, actor=actor),
        params={"title": opportunity.title, "decision": data.decision, "stage": target},
        link=f"/opportunities/{opportunity.id}")
    return decision


def revive(session: Session, *, actor: Principal, opportunity_id: int, data: ReviveIn,
           now: datetime) -> GateDecision:
    """Return a parked or stopped opportunity to the stage it left; raises Forbidden or
    Conflict (it is neither parked nor stopped)."""
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if not (is_steering_group(actor) or is_secretariat(actor)) or actor.org_id is None:
        raise problems.forbidden("kun sekretariatet og styregruppen kan genoptage en mulighed")
    problem = stages.revive_problem(opportunity.stage, opportunity.paused_from)
    if problem:
        _raise_move(problem, "reason")
    assert opportunity.paused_from is not None
    decision = GateDecision(
        opportunity_id=opportunity.id, recommendation_id=None, from_stage=opportunity.stage,
        to_stage=opportunity.paused_from, decision="revive", minutes=data.reason,
        by_org_id=actor.org_id, by_name=actor.name, at=now)
    session.add(decision)
    opportunity.stage, opportunity.paused_from = opportunity.paused_from, None
    opportunity.updated_at = now
    session.flush()
    audit.record_audit(session, actor=actor, action="opportunity.revived",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"from_stage": decision.from_stage, "to_stage": decision.to_stage,
                                "reason": data.reason})
    return decision


def set_plan(session: Session, *, actor: Principal, opportunity_id: int, data: PlanIn,
             now: datetime) -> Opportunity:
    """Set the KPIs (baseline and target per effect dimension) and the execution tracks.

    Raises Forbidden (neither the registering organisation nor the secretariat), Conflict (not
    at Koncept og plan) or Invalid (a dimension named twice).
    """
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if not can_edit(actor, opportunity):
        raise problems.forbidden("kun den registrerende organisation og sekretariatet kan "
                                 "sætte planen")
    if opportunity.stage != "koncept_og_plan":
        raise problems.conflict("mål og spor sættes i fasen Koncept og plan")
    dimensions = [kpi.dimension for kpi in data.kpis]
    if len(dimensions) != len(set(dimensions)):
        raise problems.invalid_field("kpis", "hver effektdimension må kun nævnes én gang")
    opportunity.kpis = {kpi.dimension: {"baseline": kpi.baseline, "target": kpi.target,
                                        "unit": kpi.unit} for kpi in data.kpis}
    opportunity.tracks = list(dict.fromkeys(data.tracks))
    opportunity.updated_at = now
    session.flush()
    audit.record_audit(session, actor=actor, action="opportunity.planned",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"kpis": opportunity.kpis, "tracks": opportunity.tracks})
    return opportunity
