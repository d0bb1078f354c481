"""JSON shapes of the testbeds domain (the public contract of its API)."""

from __future__ import annotations

from typing import Any

from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import lifecycle
from marketplace.testbeds.matching import Reason
from marketplace.testbeds.models import (
    EvidenceFile,
    Procurement,
    SolutionProfile,
    TestCourse,
    TestEnvironment,
    TestOutcome,
)
from marketplace.testbeds.solutions import EnvironmentMatch, MatchResult


def dataset_summary(dataset: Any) -> dict[str, Any]:
    publisher = dataset.publisher
    return {
        "id": dataset.id,
        "title": dataset.title,
        "publisher": {"slug": publisher.slug, "name": publisher.name, "level": publisher.level},
        "url": f"/catalog/{dataset.id}",
    }


def environment_to_json(environment: TestEnvironment, *, lang: str, free_slots: int,
                        datasets: list[Any]) -> dict[str, Any]:
    return {
        "id": environment.id,
        "slug": environment.slug,
        "name": environment.name(lang),
        "name_da": environment.name_da,
        "name_en": environment.name_en,
        "description": environment.description(lang),
        "description_da": environment.description_da,
        "description_en": environment.description_en,
        "hosts": [
            {"slug": host.org.slug, "name": host.org.name, "sector": host.sector}
            for host in environment.hosts
        ],
        "themes": environment.themes,
        "target_groups": environment.target_groups,
        "resources": environment.resources,
        "facilities": environment.facilities,
        "trl": {"min": environment.trl_min, "max": environment.trl_max},
        "capacity_per_year": environment.capacity_per_year,
        "free_slots": free_slots,
        "datasets": [dataset_summary(dataset) for dataset in datasets],
        "contact": {"name": environment.contact_name, "email": environment.contact_email,
                    "homepage": environment.homepage},
        "updated_at": environment.updated_at.isoformat(),
    }


def reason_to_json(reason: Reason, *, lang: str) -> dict[str, Any]:
    return {
        "code": reason.code,
        "fits": reason.fits,
        "points": reason.points,
        "max_points": reason.max_points,
        "message": reason.message(lang),
        "message_da": reason.message_da,
        "message_en": reason.message_en,
    }


def match_to_json(match: EnvironmentMatch, *, lang: str) -> dict[str, Any]:
    return {
        "test_environment": environment_to_json(
            match.environment, lang=lang, free_slots=match.free_slots, datasets=match.datasets
        ),
        "score": match.score,
        "reasons": [reason_to_json(reason, lang=lang) for reason in match.reasons],
        "datasets": [dataset_summary(dataset) for dataset in match.datasets],
    }


def match_result_to_json(result: MatchResult, *, lang: str) -> dict[str, Any]:
    return {
        "items": [match_to_json(match, lang=lang) for match in result.items],
        "datasets": [dataset_summary(dataset) for dataset in result.datasets],
    }


def solution_to_json(solution: SolutionProfile) -> dict[str, Any]:
    return {
        "id": solution.id,
        "company": {"slug": solution.company.slug, "name": solution.company.name},
        "name": solution.name,
        "themes": solution.themes,
        "target_groups": solution.target_groups,
        "needs": solution.needs,
        "facilities": solution.facilities,
        "trl": solution.trl,
        "description": solution.description,
        "created_at": solution.created_at.isoformat(),
    }


def outcome_to_json(outcome: TestOutcome) -> dict[str, Any]:
    return {
        "id": outcome.id,
        "dimension": outcome.dimension,
        "party": outcome.party,
        "metric": outcome.metric,
        "unit": outcome.unit,
        "baseline": outcome.baseline,
        "result": outcome.result,
        "better": outcome.better,
        "change": outcome.change,
        "note": outcome.note,
    }


def evidence_to_json(evidence: EvidenceFile) -> dict[str, Any]:
    return {
        "id": evidence.id,
        "dimension": evidence.dimension,
        "filename": evidence.filename,
        "content_type": evidence.content_type,
        "size_bytes": evidence.size_bytes,
        "sha256": evidence.sha256,
        "url": f"/api/v1/evidence/{evidence.id}",
    }


def procurement_to_json(procurement: Procurement | None) -> dict[str, Any] | None:
    if procurement is None:
        return None
    return {
        "id": procurement.id,
        "buyer": {"slug": procurement.buyer.slug, "name": procurement.buyer.name},
        "started_at": procurement.started_at.isoformat(),
        "note": procurement.note,
    }


def course_to_json(course: TestCourse, *, lang: str) -> dict[str, Any]:
    return {
        "id": course.id,
        "title": course.title,
        "goal": course.goal,
        "status": course.status,
        "status_label": lifecycle.status_label(course.status, lang),
        "next_statuses": list(lifecycle.NEXT_STATUS[course.status]),
        "test_environment": {"id": course.environment.id, "name": course.environment.name(lang)},
        "company": {"slug": course.company.slug, "name": course.company.name,
                    "country": course.company.country},
        "solution_profile_id": course.solution_profile_id,
        "planned_start": course.planned_start.isoformat() if course.planned_start else None,
        "planned_end": course.planned_end.isoformat() if course.planned_end else None,
        "participants_planned": course.participants_planned,
        "decision_comment": course.decision_comment,
        "yearly_cost_dkk": course.yearly_cost_dkk,
        "procurement_need": course.procurement_need,
        "procurement_value": course.procurement_value,
        "procurement_market": course.procurement_market,
        "outcomes": [outcome_to_json(outcome) for outcome in course.outcomes],
        "evidence": [evidence_to_json(evidence) for evidence in course.evidence],
        "procurement": procurement_to_json(course.procurement),
        "history": [
            {"from": event.from_status, "to": event.to_status, "by": event.actor_name,
             "comment": event.comment, "at": event.at.isoformat()}
            for event in course.events
        ],
        "created_at": course.created_at.isoformat(),
        "status_changed_at": course.status_changed_at.isoformat(),
    }


def dossier_to_json(dossier: dossiers.Dossier, *, lang: str) -> dict[str, Any]:
    return {
        "test_course_id": dossier.course_id,
        "title": dossier.title,
        "status": dossier.status,
        "solution": {"name": dossier.solution_name, "description": dossier.solution_description,
                     "company": dossier.company_name, "country": dossier.company_country,
                     "themes": list(dossier.themes), "target_groups": list(dossier.target_groups),
                     "trl": dossier.trl},
        "tested": {"test_environment": dossier.environment_name(lang),
                   "hosts": list(dossier.hosts), "goal": dossier.goal,
                   "planned_start": dossier.planned_start.isoformat()
                   if dossier.planned_start else None,
                   "planned_end": dossier.planned_end.isoformat()
                   if dossier.planned_end else None,
                   "timeline": [{"status": status, "date": day.isoformat()}
                                for status, day in dossier.timeline]},
        "effects": [
            {"dimension": dimension.code, "label": dimension.label(lang),
             "outcomes": [
                 {"party": o.party, "metric": o.metric, "unit": o.unit, "baseline": o.baseline,
                  "result": o.result, "change": o.change, "note": o.note}
                 for o in outcomes
             ]}
            for dimension, outcomes in dossier.by_dimension()
        ],
        "evidence": [
            {"id": e.id, "filename": e.filename, "content_type": e.content_type,
             "size_bytes": e.size_bytes, "sha256": e.sha256, "dimension": e.dimension}
            for e in dossier.evidence
        ],
        "yearly_cost_dkk": dossier.yearly_cost_dkk,
        "direct_purchase_limit_dkk": dossiers.DIRECT_PURCHASE_LIMIT_DKK,
        "within_direct_purchase": dossier.within_direct_purchase,
        "value_based_procurement": {"need": dossier.need, "value": dossier.value,
                                    "market": dossier.market},
        "missing": list(dossier.missing),
        "procurement": {"buyer": dossier.procurement.buyer,
                        "started_at": dossier.procurement.started_at.isoformat()}
        if dossier.procurement else None,
        "generated_at": dossier.generated_at.isoformat(),
    }


def dossier_content(dossier: dossiers.Dossier) -> dict[str, Any]:
    """What the dossier's verification hash covers: its Danish JSON without the moment it was
    generated, so the same content always gives the same hash, in either language."""
    content = dossier_to_json(dossier, lang="da")
    del content["generated_at"]
    return content
