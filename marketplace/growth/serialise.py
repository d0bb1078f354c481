"""JSON forms of the growth pipeline's objects (the public API shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.growth.models import (
    ClinicalProject,
    Evidence,
    GateDecision,
    Opportunity,
    ProcurementCase,
    Recommendation,
)
from marketplace.growth.procurement import business_case


def _org(org: Any) -> dict[str, str] | None:
    return {"slug": org.slug, "name": org.name} if org is not None else None


def recommendation_json(item: Recommendation) -> dict[str, Any]:
    return {"id": item.id, "from_stage": item.from_stage, "to_stage": item.to_stage,
            "text": item.text, "model_version": item.model_version, "scores": item.scores,
            "must_meet": item.must_meet, "total": item.total, "knocked_out": item.knocked_out,
            "by": item.by_name, "at": item.at.isoformat(), "decided": item.decided}


def decision_json(item: GateDecision) -> dict[str, Any]:
    return {"id": item.id, "recommendation_id": item.recommendation_id,
            "from_stage": item.from_stage, "to_stage": item.to_stage,
            "decision": item.decision, "minutes": item.minutes, "by": item.by_name,
            "at": item.at.isoformat()}


def evidence_json(item: Evidence) -> dict[str, Any]:
    return {"id": item.id, "source": item.source, "source_id": item.source_id,
            "title": item.title, "provenance": item.provenance, "added_by": item.added_by_name,
            "added_at": item.added_at.isoformat()}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # registered | recommendation | decision | evidence
    item: Any


# Audit actions that have no row of their own in the growth tables, shown on the timeline.
AUDITED_STEPS = ("opportunity.changed", "opportunity.planned", "procurement_case.opened",
                 "procurement_case.step")


def timeline(opportunity: Opportunity, audited: list[Any] | None = None) -> list[TimelineEntry]:
    """Everything that happened to the opportunity, oldest first (`audited`: its audit
    entries, for the changes that only the audit chain records)."""
    entries = [TimelineEntry(opportunity.created_at, "registered", opportunity)]
    entries += [TimelineEntry(a.at, a.action, a) for a in audited or []
                if a.action in AUDITED_STEPS]
    entries += [TimelineEntry(r.at, "recommendation", r) for r in opportunity.recommendations]
    entries += [TimelineEntry(d.at, "decision", d) for d in opportunity.decisions]
    entries += [TimelineEntry(e.added_at, "evidence", e) for e in opportunity.evidence]
    return sorted(entries, key=lambda entry: entry.at)


def _history(opportunity: Opportunity, audited: list[Any]) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for entry in timeline(opportunity, audited):
        if entry.kind == "registered":
            history.append({"kind": "registered", "at": entry.at.isoformat(),
                            "by": opportunity.registered_by_name,
                            "org": opportunity.registered_by.slug})
        elif entry.kind == "recommendation":
            history.append({"kind": "recommendation", **recommendation_json(entry.item)})
        elif entry.kind == "decision":
            history.append({"kind": "decision", **decision_json(entry.item)})
        elif entry.kind in AUDITED_STEPS:
            history.append({"kind": entry.kind, "at": entry.at.isoformat(),
                            "details": entry.item.details})
        else:
            history.append({"kind": "evidence", **evidence_json(entry.item)})
    return history


def opportunity_json(opportunity: Opportunity, *, clinical_project: ClinicalProject | None,
                     case: ProcurementCase | None, audited: list[Any]) -> dict[str, Any]:
    latest = opportunity.recommendations[-1] if opportunity.recommendations else None
    return {
        "id": opportunity.id, "title": opportunity.title,
        "description": opportunity.description, "origin": opportunity.origin,
        "stage": opportunity.stage, "paused_from": opportunity.paused_from,
        "need_owner": _org(opportunity.need_owner),
        "companies": [c.org.slug for c in opportunity.companies],
        "themes": list(opportunity.themes or []),
        "registered_by": _org(opportunity.registered_by),
        "scores": ({"model_version": latest.model_version, "total": latest.total,
                    "knocked_out": latest.knocked_out, "criteria": latest.scores,
                    "must_meet": latest.must_meet} if latest else None),
        "kpis": opportunity.kpis or {}, "tracks": list(opportunity.tracks or []),
        "evidence": [evidence_json(e) for e in opportunity.evidence],
        "history": _history(opportunity, audited),
        "clinical_project_id": clinical_project.id if clinical_project else None,
        "procurement_case_id": case.id if case else None,
        "created_at": opportunity.created_at.isoformat(),
        "updated_at": opportunity.updated_at.isoformat(),
    }


def summary_json(opportunity: Opportunity) -> dict[str, Any]:
    return {"id": opportunity.id, "title": opportunity.title, "stage": opportunity.stage,
            "origin": opportunity.origin, "themes": list(opportunity.themes or []),
            "need_owner": _org(opportunity.need_owner),
            "companies": [c.org.slug for c in opportunity.companies],
            "updated_at": opportunity.updated_at.isoformat()}


def clinical_project_json(project: ClinicalProject) -> dict[str, Any]:
    return {"id": project.id, "opportunity_id": project.opportunity_id, "title": project.title,
            "department": project.department.slug, "funding_dkk": project.funding_dkk,
            "start": project.start.isoformat(), "end": project.end.isoformat(),
            "ethics_approval": project.ethics_approval, "permit_ids": project.permit_ids,
            "outcomes": project.outcomes}


def case_json(case: ProcurementCase) -> dict[str, Any]:
    investment = next(step for step in case.steps if step["key"] == "investment")
    economics = business_case(investment["fields"])
    return {
        "id": case.id, "opportunity_id": case.opportunity_id,
        "title": case.opportunity.title, "buyer": _org(case.buyer),
        "yearly_cost_dkk": case.yearly_cost_dkk, "route": case.route, "steps": case.steps,
        "business_case": {"yearly_cost_dkk": economics.yearly_cost_dkk,
                          "one_off_cost_dkk": economics.one_off_cost_dkk,
                          "yearly_benefit_dkk": economics.yearly_benefit_dkk,
                          "tco_dkk": economics.tco_dkk, "net_dkk": economics.net_dkk,
                          "years": economics.years},
        "created_at": case.created_at.isoformat(), "updated_at": case.updated_at.isoformat(),
    }
