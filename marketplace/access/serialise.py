"""JSON shapes of the access API (the public contract's field names)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from marketplace.access import sla
from marketplace.access.models import AccessRequest, Permit, ReviewTask
from marketplace.access.services import RegisterRow


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _org(org: Any) -> dict[str, Any]:
    return {"slug": org.slug, "name": org.name, "country": org.country}


def permit_to_json(permit: Permit, *, now: datetime) -> dict[str, Any]:
    return {
        "id": permit.id, "status": permit.status_at(now),
        "access_request_id": permit.access_request_id, "company": _org(permit.company),
        "purpose": permit.purpose, "datasets": permit.datasets, "cohort": permit.cohort,
        "k_min": permit.k_min, "pseudonymised": permit.pseudonymised, "duties": permit.duties,
        "approved_at": _iso(permit.approved_at), "valid_until": _iso(permit.valid_until),
        "policy_version": permit.policy_version,
        "test_environment": permit.test_environment_id, "test_course": permit.test_course_id,
        "revoked_at": _iso(permit.revoked_at), "revocation_reason": permit.revocation_reason,
    }


def review_to_json(task: ReviewTask, *, now: datetime) -> dict[str, Any]:
    return {
        "holder": _org(task.holder), "round": task.round, "status": task.status,
        "comment": task.comment, "due_at": _iso(task.due_at), "decided_at": _iso(task.decided_at),
        "working_days_left": (sla.working_days_left(now, task.due_at)
                              if task.status == "pending" else None),
    }


def request_to_json(request: AccessRequest, *, now: datetime) -> dict[str, Any]:
    decision = request.latest_decision
    return {
        "id": request.id, "status": request.status, "round": request.round,
        "title": request.title, "description": request.description, "purpose": request.purpose,
        "company": _org(request.company),
        "datasets": [{"id": item.dataset_id, "columns": item.columns} for item in request.items],
        "diseases": request.diseases, "cohort": request.cohort,
        "duration_days": request.duration_days, "pseudonymised": request.pseudonymised,
        "pseudonymisation_justification": request.pseudonymisation_justification,
        "safeguards": request.safeguards, "ethics_approval": request.ethics_approval,
        "processors": request.processors, "test_environment": request.test_environment_id,
        "test_course": request.test_course_id,
        "submitted_at": _iso(request.submitted_at), "closed_at": _iso(request.closed_at),
        "decision": decision and {
            "outcome": decision.outcome, "reasons": decision.reasons,
            "policy_version": decision.policy_version, "decided_at": _iso(decision.decided_at)},
        "reviews": [review_to_json(task, now=now) for task in request.review_tasks
                    if task.status != "superseded"],
        "permit": request.permit and permit_to_json(request.permit, now=now),
    }


def register_row_to_json(row: RegisterRow) -> dict[str, Any]:
    permit = row.permit
    purpose = row.purpose
    return {
        "permit_id": permit.id, "status": row.status, "company": _org(permit.company),
        "purpose": {"code": permit.purpose,
                    "label_da": purpose.label_da if purpose else permit.purpose,
                    "label_en": purpose.label_en if purpose else permit.purpose},
        "datasets": [{"id": d.id, "title": d.title, "holder": d.publisher.name}
                     for d in row.datasets],
        "pseudonymised": permit.pseudonymised, "approved_at": _iso(permit.approved_at),
        "valid_until": _iso(permit.valid_until), "revoked_at": _iso(permit.revoked_at),
    }
