"""The console's records as JSON, for the API and (as plain dicts) for the pages."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.audit import AuditEntry
from marketplace.consent.models import ConsentNotice
from marketplace.delivery.models import Extract
from marketplace.identity import services as identity_services
from marketplace.identity.models import ApiClient, Organisation, User
from marketplace.workspace.models import WorkspaceJob


def org_to_json(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name, "kind": org.kind,
            "country": org.country, "accredited": org.accredited, "active": org.is_active,
            "users": len(org.users)}


def user_to_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "sub": user.sub, "email": user.email, "name": user.name,
            "org": user.org.slug, "role": user.role, "active": user.is_active,
            "last_sign_in_at": user.last_sign_in_at}


def client_to_json(client: ApiClient) -> dict[str, Any]:
    return {"id": client.id, "client_id": client.client_id, "org": client.org.slug,
            "scopes": client.scope_list, "created_at": client.created_at,
            "revoked_at": client.revoked_at}


def entry_to_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at, "actor": entry.actor, "action": entry.action,
            "subject_type": entry.subject_type, "subject_id": entry.subject_id,
            "details": entry.details}


def queue_item(session: Session, item: Extract | WorkspaceJob, *, now: datetime
               ) -> dict[str, Any]:
    """One extract or workspace job as the queue shows it: who, state, age, attempts, error."""
    org = identity_services.get_org_by_id(session, org_id=item.company_org_id)
    return {"queue": "extracts" if isinstance(item, Extract) else "workspace",
            "id": item.id, "permit_id": item.permit_id, "company": org.name if org else "",
            "status": item.status, "attempts": item.attempts, "created_at": item.created_at,
            "age_seconds": max(0, int((now - item.created_at).total_seconds())),
            "error": item.error}


def notice_to_json(notice: ConsentNotice) -> dict[str, Any]:
    return {"version": notice.version, "summary": notice.summary,
            "published_at": notice.published_at, "published_by": notice.published_by}
