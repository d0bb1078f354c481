"""The console's typed API (`/api/v1/admin/...`, scope `platform:admin`); the pages are in
`admin/pages.py`. Services decide that only the operator may act; refusals and field messages
are Danish source text, given here in the caller's language."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag

from marketplace.admin import serialise
from marketplace.admin import services as admin_services
from marketplace.admin.console import notice_state, queue_page, search_audit, translate
from marketplace.admin.pages import bp
from marketplace.admin.schemas import (
    ApiClientIn,
    ApiClientList,
    ApiClientOut,
    AuditCheckOut,
    AuditPage,
    AuditQuery,
    ClientPath,
    IssuedSecretOut,
    NoticeIn,
    NoticeState,
    OrganisationIn,
    OrganisationList,
    OrganisationOut,
    OrganisationPath,
    QueuedExtractPath,
    QueuedJobPath,
    QueueEntryOut,
    QueuePage,
    QueueQuery,
    RoleIn,
    UserIn,
    UserList,
    UserOut,
    UserPath,
    UsersQuery,
)
from marketplace.consent import services as consent_services
from marketplace.db import get_session, utcnow
from marketplace.delivery import services as delivery_services
from marketplace.errors import DomainError, problem_response
from marketplace.identity import services as identity_services
from marketplace.identity.auth import api_auth, current_principal
from marketplace.security import current_keyring
from marketplace.web.api import requires
from marketplace.web.api import responses as _responses
from marketplace.workspace import services as workspace_services

api = APIBlueprint("admin_api", __name__, abp_tags=[Tag(name="operator's console")])
SCOPE = "platform:admin"
__all__ = ["api", "bp"]


def responses(*spec: Any) -> Any:
    """The documented responses of an operation (typed loosely for flask-openapi3's signature)."""
    return _responses(*spec)


@api.errorhandler(DomainError)
def _translated_problem(error: DomainError) -> Response:
    return problem_response(translate(error))


def _json(value: Any) -> Any:
    """Plain JSON: times as ISO 8601 (Flask would write them as HTTP dates)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value


def _answer(body: Any, status: int = 200) -> tuple[Response, int]:
    response = jsonify(_json(body))
    if "client_secret" in body:
        response.headers["Cache-Control"] = "no-store"
    return response, status


# --- organisations and users -----------------------------------------------------------------

@api.get("/api/v1/admin/organisations", responses=responses(200, OrganisationList, 401, 403),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_orgs() -> tuple[Response, int]:
    """Every organisation with its kind, state and number of staff."""
    orgs = identity_services.list_orgs_for_operator(get_session(), actor=current_principal())
    return _answer({"items": [serialise.org_to_json(o) for o in orgs]})


@api.post("/api/v1/admin/organisations",
          responses=responses(201, OrganisationOut, 400, 401, 403, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_create_org(body: OrganisationIn) -> tuple[Response, int]:
    """Create an organisation (audited)."""
    db = get_session()
    org = identity_services.create_org_as_operator(
        db, actor=current_principal(), slug=body.slug, name=body.name, kind=body.kind,
        country=body.country, accredited=body.accredited)
    db.commit()
    return _answer(serialise.org_to_json(org), 201)


@api.post("/api/v1/admin/organisations/<int:org_id>/deactivate",
          responses=responses(200, OrganisationOut, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_deactivate_org(path: OrganisationPath) -> tuple[Response, int]:
    """Deactivate an organisation: its staff can no longer sign in and its API clients' tokens
    stop working at once (audited)."""
    db = get_session()
    org = identity_services.deactivate_org(db, actor=current_principal(), org_id=path.org_id)
    db.commit()
    return _answer(serialise.org_to_json(org))


@api.get("/api/v1/admin/users", responses=responses(200, UserList, 401, 403, 404, 422),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_users(query: UsersQuery) -> tuple[Response, int]:
    """Every staff member (`?org=` keeps one organisation's)."""
    db, actor = get_session(), current_principal()
    identity_services.require_operator(actor)
    org_id = identity_services.require_org(db, slug=query.org).id if query.org else None
    users = identity_services.list_users(db, actor=actor, org_id=org_id)
    return _answer({"items": [serialise.user_to_json(u) for u in users]})


@api.post("/api/v1/admin/users", responses=responses(201, UserOut, 400, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_create_user(body: UserIn) -> tuple[Response, int]:
    """Add a staff member (their sign-in subject, e-mail, organisation and role; audited)."""
    db, actor = get_session(), current_principal()
    identity_services.require_operator(actor)
    org = identity_services.require_org(db, slug=body.org)
    user = identity_services.add_user_as_operator(
        db, actor=actor, sub=body.sub, email=body.email, org_id=org.id, role=body.role,
        name=body.name)
    db.commit()
    return _answer(serialise.user_to_json(user), 201)


@api.patch("/api/v1/admin/users/<int:user_id>",
           responses=responses(200, UserOut, 400, 401, 403, 404, 409, 422),
           security=requires(SCOPE))
@api_auth(SCOPE)
def api_change_role(path: UserPath, body: RoleIn) -> tuple[Response, int]:
    """Change a staff member's role; it must fit their organisation (audited)."""
    db = get_session()
    user = identity_services.change_role(db, actor=current_principal(), user_id=path.user_id,
                                         role=body.role)
    db.commit()
    return _answer(serialise.user_to_json(user))


@api.post("/api/v1/admin/users/<int:user_id>/deactivate",
          responses=responses(200, UserOut, 401, 403, 404, 409, 422), security=requires(SCOPE))
@api_auth(SCOPE)
def api_deactivate_user(path: UserPath) -> tuple[Response, int]:
    """Deactivate a staff member: sign-in is refused and live sign-ins end at once (audited)."""
    db = get_session()
    user = identity_services.deactivate_user(db, actor=current_principal(), user_id=path.user_id)
    db.commit()
    return _answer(serialise.user_to_json(user))


# --- API clients -----------------------------------------------------------------------------

@api.get("/api/v1/admin/api-clients", responses=responses(200, ApiClientList, 401, 403),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_clients() -> tuple[Response, int]:
    """Every API client with its organisation and scopes, newest first."""
    clients = identity_services.list_api_clients(get_session(), actor=current_principal())
    return _answer({"items": [serialise.client_to_json(c) for c in clients]})


def _issued(issued: identity_services.IssuedClient) -> dict[str, Any]:
    return serialise.client_to_json(issued.client) | {"client_secret": issued.secret}


@api.post("/api/v1/admin/api-clients",
          responses=responses(201, IssuedSecretOut, 400, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_create_client(body: ApiClientIn) -> tuple[Response, int]:
    """Create an API client for an organisation; the secret is in this answer only (audited)."""
    db, actor = get_session(), current_principal()
    identity_services.require_operator(actor)
    org = identity_services.require_org(db, slug=body.org)
    issued = identity_services.create_api_client_as_operator(
        db, actor=actor, keyring=current_keyring(), org_id=org.id, scopes=body.scopes)
    db.commit()
    return _answer(_issued(issued), 201)


@api.post("/api/v1/admin/api-clients/<int:client_id>/rotate",
          responses=responses(200, IssuedSecretOut, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_rotate_client(path: ClientPath) -> tuple[Response, int]:
    """Give an API client a new secret; the old secret and its tokens stop at once (audited)."""
    db = get_session()
    issued = identity_services.rotate_client_secret(
        db, actor=current_principal(), keyring=current_keyring(), client_id=path.client_id)
    db.commit()
    return _answer(_issued(issued))


@api.post("/api/v1/admin/api-clients/<int:client_id>/revoke",
          responses=responses(200, ApiClientOut, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_revoke_client(path: ClientPath) -> tuple[Response, int]:
    """Revoke an API client: its secret and every token stop working at once (audited)."""
    db = get_session()
    client = identity_services.revoke_api_client(db, actor=current_principal(),
                                                 client_id=path.client_id)
    db.commit()
    return _answer(serialise.client_to_json(client))


# --- the audit log ---------------------------------------------------------------------------

@api.get("/api/v1/admin/audit", responses=responses(200, AuditPage, 401, 403, 422),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_audit(query: AuditQuery) -> tuple[Response, int]:
    """Search the audit log by event, actor, subject and date range (UTC days), newest first."""
    entries, total = search_audit(get_session(), actor=current_principal(), query=query)
    return _answer({"items": [serialise.entry_to_json(e) for e in entries], "total": total,
                    "page": query.page, "per_page": query.per_page})


@api.get("/api/v1/admin/audit/verify", responses=responses(200, AuditCheckOut, 401, 403),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_audit_verify() -> tuple[Response, int]:
    """The check of `marketplace audit verify`: `ok`, entries checked and the first broken."""
    check = admin_services.verify_audit_for(get_session(), actor=current_principal())
    return _answer(check.to_json())


# --- job queues ------------------------------------------------------------------------------

@api.get("/api/v1/admin/queues/extracts", responses=responses(200, QueuePage, 401, 403, 422),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_extract_queue(query: QueueQuery) -> tuple[Response, int]:
    """Every company's extracts, newest first (`?status=failed` for those to retry)."""
    items, total = queue_page(get_session(), actor=current_principal(), queue="extracts",
                              query=query)
    return _answer({"items": items, "total": total, "page": query.page,
                    "per_page": query.per_page})


@api.get("/api/v1/admin/queues/workspace", responses=responses(200, QueuePage, 401, 403, 422),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_job_queue(query: QueueQuery) -> tuple[Response, int]:
    """Every company's workspace jobs, newest first (`?status=failed` for those to retry)."""
    items, total = queue_page(get_session(), actor=current_principal(), queue="workspace",
                              query=query)
    return _answer({"items": items, "total": total, "page": query.page,
                    "per_page": query.per_page})


@api.post("/api/v1/admin/queues/extracts/<int:extract_id>/retry",
          responses=responses(200, QueueEntryOut, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_retry_extract(path: QueuedExtractPath) -> tuple[Response, int]:
    """Queue a failed extract again (audited); 409 unless it failed or its permit is active."""
    db, actor = get_session(), current_principal()
    identity_services.require_operator(actor)
    extract = delivery_services.retry_extract(db, actor=actor, extract_id=path.extract_id,
                                              now=utcnow())
    db.commit()
    return _answer(serialise.queue_item(db, extract, now=utcnow()))


@api.post("/api/v1/admin/queues/workspace/<int:job_id>/retry",
          responses=responses(200, QueueEntryOut, 401, 403, 404, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_retry_job(path: QueuedJobPath) -> tuple[Response, int]:
    """Queue a failed workspace job again (audited); 409 unless it failed or its permit is
    active."""
    db, actor = get_session(), current_principal()
    identity_services.require_operator(actor)
    job = workspace_services.retry_job(db, actor=actor, job_id=path.job_id, now=utcnow())
    db.commit()
    return _answer(serialise.queue_item(db, job, now=utcnow()))


# --- the consent notice ----------------------------------------------------------------------

@api.get("/api/v1/admin/consent-notice", responses=responses(200, NoticeState, 401, 403),
         security=requires(SCOPE))
@api_auth(SCOPE)
def api_notice() -> tuple[Response, int]:
    """The consent notice version citizens consent under now, and every published one."""
    return _answer(notice_state(get_session(), actor=current_principal()))


@api.post("/api/v1/admin/consent-notice",
          responses=responses(201, NoticeState, 400, 401, 403, 409, 422),
          security=requires(SCOPE))
@api_auth(SCOPE)
def api_publish_notice(body: NoticeIn) -> tuple[Response, int]:
    """Publish a new consent notice version with a summary of what changed (audited)."""
    db = get_session()
    consent_services.publish_notice(db, actor=current_principal(), version=body.version,
                                    summary=body.summary, now=utcnow())
    db.commit()
    return _answer(notice_state(db, actor=current_principal()), 201)
