"""The console's pages under /admin: forms validated by the API's models, refusals in the
reader's language, every change behind CSRF and audited by the services."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError

from marketplace.admin import schemas
from marketplace.admin import services as admin_services
from marketplace.admin.console import notice_state, queue_page, search_audit, translate
from marketplace.admin.events import EVENT_LABELS
from marketplace.consent import services as consent_services
from marketplace.db import get_session, utcnow
from marketplace.delivery import services as delivery_services
from marketplace.errors import DomainError, Invalid, NotFound, problem_response
from marketplace.identity import services as identity_services
from marketplace.identity.auth import current_principal, login_required
from marketplace.identity.models import ORG_KINDS, ROLES
from marketplace.security import current_keyring
from marketplace.web.api import MAX_ID, field_errors
from marketplace.web.i18n import current_language, format_datetime
from marketplace.web.i18n import gettext as _
from marketplace.workspace import services as workspace_services

bp = Blueprint("admin", __name__)
M = TypeVar("M", bound=BaseModel)

ROLE_LABELS = {
    "holder_admin": "Dataansvarlig administrator", "reviewer": "Sagsbehandler",
    "output_checker": "Outputkontrollant", "company_member": "Virksomhedsmedarbejder",
    "host_member": "Testmiljø-vært", "secretariat": "Klyngesekretariat",
    "steering_group": "Styregruppe", "operator": "Operatør",
}
KIND_LABELS = {
    "national": "National myndighed", "regional": "Region eller hospital",
    "municipal": "Kommune", "company": "Virksomhed", "test_host": "Testmiljø",
    "operator": "Platformens operatør", "cluster": "Klynge",
}
STATUS_LABELS = {
    "queued": "I kø", "running": "Kører", "succeeded": "Færdig", "failed": "Fejlet",
    "cancelled": "Annulleret",
}
QUEUES = {"extracts": "Udtræk", "workspace": "Analysejob"}
SCOPE_TEXTS = {
    "catalog:write": "udgive datasæt og dataversioner",
    "access:request": "søge om adgang til data",
    "access:review": "behandle ansøgninger om dataholderens datasæt",
    "workspace:run": "køre analyser i en tilladelses sikre analysemiljø",
    "output:check": "kontrollere og frigive resultater fra dataholderens tilladelser",
    "statistics:request": "bestille anonym statistik (EHDS art. 69)",
    "growth:write": "registrere muligheder og kliniske projekter i vækstpipelinen",
    "platform:admin": "drive platformen: organisationer, brugere, API-klienter, revisionsspor, "
                      "jobkøer og samtykketekst (kun operatøren)",
}


@bp.app_template_filter("admin_time")
def admin_time(moment: datetime | None) -> str:
    """Copenhagen's local time with its zone named, as the operator reads it."""
    return format_datetime(moment) if moment else ""


@bp.app_template_filter("admin_age")
def admin_age(seconds: int) -> str:
    """A waiting time in the largest sensible unit."""
    if seconds < 3600:
        return _("{n} min", n=seconds // 60)
    if seconds < 86_400:
        return _("{h} t {m} min", h=seconds // 3600, m=seconds % 3600 // 60)
    return _("{d} d {h} t", d=seconds // 86_400, h=seconds % 86_400 // 3600)


@bp.app_template_filter("admin_query")
def admin_query(args: dict[str, Any], **changes: Any) -> str:
    """The query string of `args` with `changes` laid over it (for the pager's links)."""
    merged = {key: value for key, value in (args | changes).items() if value not in (None, "")}
    return urlencode(merged)


@bp.errorhandler(DomainError)
def _translated_page(error: DomainError) -> Response:
    return problem_response(translate(error))


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, role_labels=ROLE_LABELS, kind_labels=KIND_LABELS,
                           status_labels=STATUS_LABELS, queues=QUEUES, **context), status


def _page_id(value: int) -> int:
    # Flask's <int:> takes any size; ids beyond 32 bits name nothing.
    if value > MAX_ID:
        raise NotFound("siden findes ikke")
    return value


def _parse(model: type[M], data: dict[str, Any]) -> tuple[M | None, list[dict[str, str]]]:
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        return None, field_errors(error)


def _query(model: type[M]) -> M:
    parsed, errors = _parse(model, request.args.to_dict())
    if parsed is None:
        raise Invalid(_("ugyldig søgning"), errors=errors)
    return parsed


def _attempt(act: Callable[[], Any]) -> tuple[Any, list[dict[str, str]]]:
    """Run a service call from a form; a refusal that names fields goes back to the form."""
    try:
        return act(), []
    except DomainError as error:
        get_session().rollback()
        if not error.errors:
            raise
        return None, [{"field": e["field"], "message": _(e["message"])} for e in error.errors]


def _done(message: str, endpoint: str, **values: Any) -> ResponseReturnValue:
    get_session().commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), code=303)


def operator_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A console page: signed-in staff (others are sent to sign in); the operator check is the
    services' and is made before anything is read."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        identity_services.require_operator(current_principal())
        return view(*args, **kwargs)

    return login_required(kinds=("staff",))(wrapper)


# --- overview --------------------------------------------------------------------------------

@bp.get("/admin")
@operator_page
def overview() -> tuple[str, int]:
    """The console's front page: what needs attention and where to find each part."""
    db, actor = get_session(), current_principal()
    failed_extracts = delivery_services.page_extract_queue(db, actor=actor, status="failed",
                                                           offset=0, limit=1)[1]
    failed_jobs = workspace_services.page_job_queue(db, actor=actor, status="failed",
                                                    offset=0, limit=1)[1]
    return _render("admin/overview.html", failed_extracts=failed_extracts,
                   failed_jobs=failed_jobs, notice_version=consent_services.notice_version(db),
                   orgs=len(identity_services.list_orgs_for_operator(db, actor=actor)),
                   users=len(identity_services.list_users(db, actor=actor)))


# --- organisations ---------------------------------------------------------------------------

def _orgs_page(status: int = 200, form: dict[str, Any] | None = None,
               errors: list[dict[str, str]] | None = None) -> tuple[str, int]:
    orgs = identity_services.list_orgs_for_operator(get_session(), actor=current_principal())
    return _render("admin/organisations.html", status, orgs=orgs, kinds=ORG_KINDS,
                   form=form or {"country": "DK"}, errors=errors or [])


@bp.get("/admin/organisations")
@operator_page
def organisations() -> tuple[str, int]:
    return _orgs_page()


@bp.post("/admin/organisations")
@operator_page
def create_organisation() -> ResponseReturnValue:
    form = {"slug": request.form.get("slug", ""), "name": request.form.get("name", ""),
            "kind": request.form.get("kind", ""), "country": request.form.get("country", "DK"),
            "accredited": request.form.get("accredited") == "on"}
    data, errors = _parse(schemas.OrganisationIn, form)
    if data is not None:
        org, errors = _attempt(lambda: identity_services.create_org_as_operator(
            get_session(), actor=current_principal(), slug=data.slug, name=data.name,
            kind=data.kind, country=data.country, accredited=data.accredited))
        if org is not None:
            return _done(_("Organisationen {name} er oprettet.", name=org.name),
                         "admin.organisations")
    return _orgs_page(422, form, errors)


@bp.post("/admin/organisations/<int:org_id>/deactivate")
@operator_page
def deactivate_organisation(org_id: int) -> ResponseReturnValue:
    org = identity_services.deactivate_org(get_session(), actor=current_principal(),
                                           org_id=_page_id(org_id))
    return _done(_("{name} er deaktiveret: ingen fra organisationen kan logge ind, og dens "
                   "API-klienter er stoppet.", name=org.name), "admin.organisations")


# --- users -----------------------------------------------------------------------------------

def _users_page(status: int = 200, form: dict[str, Any] | None = None,
                errors: list[dict[str, str]] | None = None) -> tuple[str, int]:
    db, actor = get_session(), current_principal()
    query = _query(schemas.UsersQuery)
    org = identity_services.require_org(db, slug=query.org) if query.org else None
    users = identity_services.list_users(db, actor=actor, org_id=org.id if org else None)
    active_orgs = [o for o in identity_services.list_orgs(db) if o.is_active]
    return _render("admin/users.html", status, users=users, chosen_org=org,
                   orgs=active_orgs, roles=ROLES, role_fits=identity_services.role_fits,
                   form=form or {"org": org.slug if org else ""}, errors=errors or [],
                   me=actor.user_id)


@bp.get("/admin/users")
@operator_page
def users() -> tuple[str, int]:
    return _users_page()


@bp.post("/admin/users")
@operator_page
def create_user() -> ResponseReturnValue:
    form = {key: request.form.get(key, "") for key in ("sub", "email", "name", "org", "role")}
    data, errors = _parse(schemas.UserIn, form)
    if data is not None:
        db, actor = get_session(), current_principal()
        org = identity_services.get_org(db, slug=data.org)
        if org is None:
            errors = [{"field": "org", "message": _("organisationen findes ikke")}]
        else:
            user, errors = _attempt(lambda: identity_services.add_user_as_operator(
                db, actor=actor, sub=data.sub, email=data.email, org_id=org.id,
                role=data.role, name=data.name))
            if user is not None:
                return _done(_("{name} er tilføjet til {org}.", name=user.name, org=org.name),
                             "admin.users")
    return _users_page(422, form, errors)


@bp.post("/admin/users/<int:user_id>/role")
@operator_page
def change_role(user_id: int) -> ResponseReturnValue:
    data, errors = _parse(schemas.RoleIn, {"role": request.form.get("role", "")})
    if data is None:
        raise Invalid(_("ugyldig rolle"), errors=errors)
    user = identity_services.change_role(get_session(), actor=current_principal(),
                                         user_id=_page_id(user_id), role=data.role)
    return _done(_("{name} har nu rollen {role}.", name=user.name,
                   role=_(ROLE_LABELS[user.role])), "admin.users")


@bp.post("/admin/users/<int:user_id>/deactivate")
@operator_page
def deactivate_user(user_id: int) -> ResponseReturnValue:
    user = identity_services.deactivate_user(get_session(), actor=current_principal(),
                                             user_id=_page_id(user_id))
    return _done(_("{name} er deaktiveret og kan ikke længere logge ind.", name=user.name),
                 "admin.users")


# --- API clients -----------------------------------------------------------------------------

def _clients_page(status: int = 200, form: dict[str, Any] | None = None,
                  errors: list[dict[str, str]] | None = None,
                  issued: identity_services.IssuedClient | None = None) -> tuple[str, int]:
    db = get_session()
    clients = identity_services.list_api_clients(db, actor=current_principal())
    active_orgs = [o for o in identity_services.list_orgs(db) if o.is_active]
    return _render("admin/api_clients.html", status, clients=clients, orgs=active_orgs,
                   scope_texts=SCOPE_TEXTS, form=form or {"scopes": []},
                   errors=errors or [], issued=issued)


def _secret_shown(page: tuple[str, int]) -> Response:
    # The secret is on this page only: never kept by a cache or the browser's history.
    response = Response(page[0], status=page[1], mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/api-clients")
@operator_page
def api_clients() -> tuple[str, int]:
    return _clients_page()


@bp.post("/admin/api-clients")
@operator_page
def create_api_client() -> ResponseReturnValue:
    form = {"org": request.form.get("org", ""), "scopes": request.form.getlist("scopes")}
    data, errors = _parse(schemas.ApiClientIn, form)
    if data is not None:
        db, actor = get_session(), current_principal()
        org = identity_services.get_org(db, slug=data.org)
        if org is None:
            errors = [{"field": "org", "message": _("organisationen findes ikke")}]
        else:
            issued, errors = _attempt(lambda: identity_services.create_api_client_as_operator(
                db, actor=actor, keyring=current_keyring(), org_id=org.id,
                scopes=data.scopes))
            if issued is not None:
                db.commit()
                return _secret_shown(_clients_page(201, issued=issued))
    return _clients_page(422, form, errors)


@bp.post("/admin/api-clients/<int:client_id>/rotate")
@operator_page
def rotate_api_client(client_id: int) -> ResponseReturnValue:
    db = get_session()
    issued = identity_services.rotate_client_secret(
        db, actor=current_principal(), keyring=current_keyring(),
        client_id=_page_id(client_id))
    db.commit()
    return _secret_shown(_clients_page(issued=issued))


@bp.post("/admin/api-clients/<int:client_id>/revoke")
@operator_page
def revoke_api_client(client_id: int) -> ResponseReturnValue:
    client = identity_services.revoke_api_client(get_session(), actor=current_principal(),
                                                 client_id=_page_id(client_id))
    return _done(_("API-klienten {client_id} er tilbagekaldt; dens hemmelighed og adgangsbeviser "
                   "virker ikke længere.", client_id=client.client_id), "admin.api_clients")


# --- the audit log ---------------------------------------------------------------------------

@bp.get("/admin/audit")
@operator_page
def audit_log() -> tuple[str, int]:
    """Search the audit log; a bad search is shown beside its fields, with nothing found."""
    args = request.args.to_dict()
    query, errors = _parse(schemas.AuditQuery, args)
    entries: list[Any] = []
    total = 0
    if query is not None:
        try:
            entries, total = search_audit(get_session(), actor=current_principal(), query=query)
        except Invalid as error:
            errors = [{"field": e["field"], "message": _(e["message"])}
                      for e in error.errors or []]
    return _render("admin/audit.html", 422 if errors else 200, entries=entries, total=total,
                   query=query or schemas.AuditQuery(), form=args, errors=errors,
                   event_labels=EVENT_LABELS, purpose_labels=_purpose_labels())


def _purpose_labels() -> dict[str, str]:
    """Purposes named in words in the entries' details (the code is in the API's JSON)."""
    lang = current_language()
    return {purpose.code: purpose.label(lang) for purpose in consent_services.list_purposes()}


@bp.get("/admin/audit/verify")
@operator_page
def audit_verify() -> tuple[str, int]:
    """Run the audit check of `marketplace audit verify` and show its result."""
    check = admin_services.verify_audit_for(get_session(), actor=current_principal())
    return _render("admin/audit_verify.html", check=check)


# --- job queues ------------------------------------------------------------------------------

@bp.get("/admin/jobs")
@operator_page
def job_queues() -> tuple[str, int]:
    """The extract queue or the workspace job queue, with retry of failed ones."""
    query = _query(schemas.QueuePageQuery)
    queue = query.queue
    items, total = queue_page(get_session(), actor=current_principal(), queue=queue,
                              query=query)
    return _render("admin/jobs.html", items=items, total=total, query=query, queue=queue,
                   states=("queued", "running", "failed", "succeeded")
                   + (("cancelled",) if queue == "workspace" else ()))


@bp.post("/admin/jobs/extracts/<int:extract_id>/retry")
@operator_page
def retry_extract(extract_id: int) -> ResponseReturnValue:
    extract = delivery_services.retry_extract(get_session(), actor=current_principal(),
                                              extract_id=_page_id(extract_id), now=utcnow())
    return _done(_("Udtræk {id} står i kø igen.", id=extract.id), "admin.job_queues",
                 queue="extracts", status="failed")


@bp.post("/admin/jobs/workspace/<int:job_id>/retry")
@operator_page
def retry_job(job_id: int) -> ResponseReturnValue:
    job = workspace_services.retry_job(get_session(), actor=current_principal(),
                                       job_id=_page_id(job_id), now=utcnow())
    return _done(_("Analysejob {id} står i kø igen.", id=job.id), "admin.job_queues",
                 queue="workspace", status="failed")


# --- the consent notice ----------------------------------------------------------------------

def _notice_page(status: int = 200, form: dict[str, Any] | None = None,
                 errors: list[dict[str, str]] | None = None) -> tuple[str, int]:
    state = notice_state(get_session(), actor=current_principal())
    return _render("admin/consent_notice.html", status, state=state, form=form or {},
                   errors=errors or [])


@bp.get("/admin/consent-notice")
@operator_page
def consent_notice() -> tuple[str, int]:
    return _notice_page()


@bp.post("/admin/consent-notice")
@operator_page
def publish_notice() -> ResponseReturnValue:
    form = {"version": request.form.get("version", ""),
            "summary": request.form.get("summary", "")}
    data, errors = _parse(schemas.NoticeIn, form)
    if data is not None:
        notice, errors = _attempt(lambda: consent_services.publish_notice(
            get_session(), actor=current_principal(), version=data.version,
            summary=data.summary, now=utcnow()))
        if notice is not None:
            return _done(_("Samtykketekstens version {version} er offentliggjort.",
                           version=notice.version), "admin.consent_notice")
    return _notice_page(422, form, errors)
