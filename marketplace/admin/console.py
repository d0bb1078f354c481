"""What the console's API and pages share: its searches, and refusals in the reader's
language."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.admin import serialise
from marketplace.admin.schemas import AuditQuery, QueueQuery
from marketplace.consent import services as consent_services
from marketplace.db import utcnow
from marketplace.delivery import services as delivery_services
from marketplace.errors import DomainError, Invalid
from marketplace.identity import services as identity_services
from marketplace.identity.principal import Principal
from marketplace.web.i18n import gettext as _
from marketplace.workspace import services as workspace_services


def translate(error: DomainError) -> DomainError:
    """Give a refusal's Danish source text in the caller's language."""
    error.detail = _(error.detail)
    if error.errors:
        error.errors = [{"field": item["field"], "message": _(item["message"])}
                        for item in error.errors]
    return error


def audit_search(query: AuditQuery) -> audit.AuditSearch:
    """The search the query asks for; raise Invalid when the dates run backwards."""
    if query.since and query.until and query.until < query.since:
        raise Invalid.field("until", "skal være samme dag som eller efter fra-datoen")
    since = datetime.combine(query.since, time(), UTC) if query.since else None
    until = (datetime.combine(query.until + timedelta(days=1), time(), UTC)
             if query.until else None)
    return audit.AuditSearch(action=query.action, actor=query.actor,
                             subject_type=query.subject_type, subject_id=query.subject_id,
                             since=since, until=until)


def search_audit(db: Session, *, actor: Principal, query: AuditQuery
                 ) -> tuple[list[audit.AuditEntry], int]:
    identity_services.require_operator(actor)
    return audit.search_audit(db, search=audit_search(query), offset=query.offset,
                              limit=query.per_page)


def queue_page(db: Session, *, actor: Principal, queue: str, query: QueueQuery
               ) -> tuple[list[dict[str, Any]], int]:
    """One page of a job queue (extracts or workspace jobs) in the console's shape."""
    if queue == "extracts":
        if query.status == "cancelled":  # extracts are never cancelled
            return [], 0
        items, total = delivery_services.page_extract_queue(
            db, actor=actor, status=query.status, offset=query.offset, limit=query.per_page)
    else:
        jobs, total = workspace_services.page_job_queue(
            db, actor=actor, status=query.status, offset=query.offset, limit=query.per_page)
        items = jobs  # type: ignore[assignment]
    now = utcnow()
    return [serialise.queue_item(db, item, now=now) for item in items], total


def notice_state(db: Session, *, actor: Principal) -> dict[str, Any]:
    """The current consent notice and every published one, for the operator."""
    history = [serialise.notice_to_json(n)
               for n in consent_services.list_notices(db, actor=actor)]
    current = history[0] if history else {
        "version": consent_services.notice_version(db), "summary": None, "published_at": None,
        "published_by": None}
    return {"current": current, "history": history}
