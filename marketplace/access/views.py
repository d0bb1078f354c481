"""HTTP glue of the access domain: the JSON API and the pages for applicants and reviewers."""
from __future__ import annotations

from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ValidationError

from marketplace.access import decisions, register, serialise, services, sla
from marketplace.access.forms import form_to_payload, payload_to_form
from marketplace.access.paging import Page
from marketplace.access.ports import AccessEngine
from marketplace.access.schemas import (
    AccessRequestOut,
    AccessRequestPage,
    Application,
    PermitOut,
    PermitPath,
    PoliciesOut,
    RegisterPage,
    RequestPath,
    ResubmitQuery,
    ReviewIn,
    ReviewQueueOut,
    RevokeIn,
)
from marketplace.consent import services as consent_services
from marketplace.cpr import scrub_cpr
from marketplace.db import get_session, reading_session, utcnow
from marketplace.errors import Invalid
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.web.api import PUBLIC, PageQuery, field_errors, requires, responses
from marketplace.web.i18n import gettext as _

ENGINE_KEY = "marketplace.access_engine"
REGISTER_STATISTICS = 100  # the newest released statistics shown on /register

api = APIBlueprint("access_api", __name__, abp_tags=[Tag(name="access")])
bp = Blueprint("access", __name__)

M = TypeVar("M", bound=BaseModel)


def engine() -> AccessEngine:
    """The policies and collaborators the application was composed with (create_app)."""
    return current_app.extensions[ENGINE_KEY]


def _in_language(error: Invalid) -> Invalid:
    """The service names fields with Danish source text; give it in the caller's language."""
    return Invalid(error.detail, errors=[{**item, "message": _(item["message"])}
                                         for item in error.errors or []])


def _validated(model: type[M], data: Any) -> M:
    """Validate form data with the API's model; raise Invalid naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        items = field_errors(error)
        raise Invalid(_("ugyldige felter: {fields}", fields=", ".join(
            dict.fromkeys(item["field"] or "body" for item in items))), errors=items) from None


def _paging() -> PageQuery:
    return _validated(PageQuery, request.args.to_dict())


def _submit(application: Application, *, resubmits: int | None = None) -> Any:
    db = get_session()
    try:
        access_request = services.submit_application(
            db, actor=current_principal(), application=application, engine=engine(),
            now=utcnow(), resubmits=resubmits)
    except Invalid as error:
        raise _in_language(error) from None
    db.commit()
    return access_request


def _amend(request_id: int, application: Application) -> Any:
    db = get_session()
    try:
        access_request = services.amend_application(
            db, actor=current_principal(), request_id=request_id, application=application,
            engine=engine(), now=utcnow())
    except Invalid as error:
        raise _in_language(error) from None
    db.commit()
    return access_request


def _review(request_id: int, review: ReviewIn) -> Any:
    db = get_session()
    try:
        access_request = services.review_application(
            db, actor=current_principal(), request_id=request_id, decision=review.decision,
            comment=review.comment, now=utcnow())
    except Invalid as error:
        raise _in_language(error) from None
    db.commit()
    return access_request


def _revoke(permit_id: int, revocation: RevokeIn) -> Any:
    db = get_session()
    permit = services.revoke_permit(db, actor=current_principal(), permit_id=permit_id,
                                    reason=revocation.reason, now=utcnow())
    db.commit()
    return permit


# --- API ------------------------------------------------------------------------------------

@api.post("/api/v1/access-requests",
          responses=responses(201, AccessRequestOut, 400, 401, 403, 409, 413, 422),
          security=requires("access:request"))
@api_auth("access:request")
def api_submit(body: Application) -> tuple[Response, int, dict]:
    """Apply for data; the policy engine decides at once (permit, deny or review)."""
    access_request = _submit(body)
    return (jsonify(serialise.request_to_json(access_request, now=utcnow())), 201,
            {"Location": url_for("access_api.api_get", request_id=access_request.id)})


def _page_json(page: Page, items: list[dict]) -> dict[str, Any]:
    return {"items": items, "total": page.total, "page": page.page, "per_page": page.per_page}


@api.get("/api/v1/access-requests", responses=responses(200, AccessRequestPage, 401, 422),
         security=requires())
@api_auth()
def api_list(query: PageQuery) -> Response:
    """List the applications the caller may see (own, or touching the caller's datasets).

    Paged: `page` (from 1) and `per_page` (1 to 200, default 50); `total` counts them all.
    """
    now = utcnow()
    page = services.page_access_requests(get_session(), actor=current_principal(), paging=query)
    return jsonify(_page_json(page, [serialise.request_to_json(r, now=now) for r in page.items]))


@api.get("/api/v1/access-requests/<int:request_id>",
         responses=responses(200, AccessRequestOut, 401, 403, 404, 422), security=requires())
@api_auth()
def api_get(path: RequestPath) -> Response:
    """Read one application with its decision, every reason, reviews and permit."""
    access_request = services.require_access_request(get_session(), request_id=path.request_id,
                                                     actor=current_principal())
    return jsonify(serialise.request_to_json(access_request, now=utcnow()))


@api.put("/api/v1/access-requests/<int:request_id>",
         responses=responses(200, AccessRequestOut, 400, 401, 403, 404, 409, 413, 422),
         security=requires("access:request"))
@api_auth("access:request")
def api_amend(path: RequestPath, body: Application) -> Response:
    """Resubmit an application the data holders asked to change; it is decided afresh."""
    access_request = _amend(path.request_id, body)
    return jsonify(serialise.request_to_json(access_request, now=utcnow()))


@api.post("/api/v1/access-requests/<int:request_id>/review",
          responses=responses(200, AccessRequestOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires("access:review"))
@api_auth("access:review")
def api_review(path: RequestPath, body: ReviewIn) -> Response:
    """Approve, reject or ask for changes (body: decision, comment) as a data holder."""
    access_request = _review(path.request_id, body)
    return jsonify(serialise.request_to_json(access_request, now=utcnow()))


@api.get("/api/v1/reviews", responses=responses(200, ReviewQueueOut, 401, 403),
         security=requires("access:review"))
@api_auth("access:review")
def api_review_queue() -> Response:
    """List the applications awaiting the caller's review, the most urgent first."""
    now = utcnow()
    queue = services.review_queue(get_session(), actor=current_principal(), now=now)
    return jsonify({"items": [
        {"access_request": serialise.request_to_json(item.request, now=now),
         "due_at": item.task.due_at.isoformat(), "working_days_left": item.working_days_left,
         "overdue": item.overdue} for item in queue]})


@api.get("/api/v1/permits/<int:permit_id>",
         responses=responses(200, PermitOut, 401, 403, 404, 422), security=requires())
@api_auth()
def api_permit(path: PermitPath) -> Response:
    """Read a permit: conditions, duties, validity and status."""
    permit = services.require_visible_permit(get_session(), permit_id=path.permit_id,
                                             actor=current_principal())
    return jsonify(serialise.permit_to_json(permit, now=utcnow()))


@api.post("/api/v1/permits/<int:permit_id>/revoke",
          responses=responses(200, PermitOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires("access:review"))
@api_auth()
def api_revoke(path: PermitPath, body: RevokeIn) -> Response:
    """Revoke a permit (a holder of a covered dataset or the operator; body: reason)."""
    permit = _revoke(path.permit_id, body)
    return jsonify(serialise.permit_to_json(permit, now=utcnow()))


@api.get("/api/v1/register", responses=responses(200, RegisterPage, 422), security=PUBLIC)
def api_register(query: PageQuery) -> Response:
    """The public register of approved data uses: who, what, why, until when.

    Paged: `page` (from 1) and `per_page` (1 to 200, default 50); `total` counts them all.
    """
    return Response(register.register_page(reading_session(), paging=query, engine=engine(),
                                           now=utcnow()), mimetype="application/json")


@api.get("/api/v1/access-policies", responses=responses(200, PoliciesOut), security=PUBLIC)
def api_policies() -> Response:
    """The access rules in force: the bundle's version and each rule's id, outcome and reason."""
    policies: decisions.PolicyBundle = engine().policies
    return jsonify({"policy_version": policies.version, "rules": [
        {"id": r.id, "outcome": r.outcome, "reason": r.reason, "reason_da": r.reason_da}
        for r in policies.rules]})


# --- pages ----------------------------------------------------------------------------------

@bp.get("/requests")
@login_required(kinds=("staff",))
def requests_page() -> str:
    page = services.page_access_requests(get_session(), actor=current_principal(),
                                         paging=_paging())
    return render_template("access/requests.html", items=page.items, page=page)


def _form_page(payload: dict, *, errors: list[dict] | None = None,
               request_id: int | None = None, resubmits: int | None = None) -> tuple[str, int]:
    values = payload_to_form(payload)
    chosen = [int(i) for i in values["datasets"] if i.isdigit() and len(i) < 10]
    q = request.args.get("q", "")
    actor = current_principal()
    options = services.application_form_options(
        get_session(), test_beds=engine().test_beds, q=q, chosen=chosen,
        company_org_id=actor.org_id if actor.has_scope("access:request") else None)
    return render_template("access/form.html", options=options, values=values, q=q,
                           errors=errors or [], field_errors=_by_field(errors),
                           request_id=request_id, resubmits=resubmits), 422 if errors else 200


def _by_field(errors: list[dict] | None) -> dict[str, list[str]]:
    by_field: dict[str, list[str]] = {}
    for error in errors or []:
        by_field.setdefault(_form_field(error["field"]), []).append(error["message"])
    return by_field


def _form_field(field: str) -> str:
    """The form control an API field error belongs beside (cohort.age → age, datasets[0] →
    datasets)."""
    parts = field.replace("[", ".").split(".")
    return parts[1] if parts[0] == "cohort" and len(parts) > 1 else parts[0]


def _form_errors(error: Invalid) -> list[dict]:
    return error.translated_errors() or [{"field": "", "message": error.translated_detail()}]


@bp.get("/requests/new")
@login_required(kinds=("staff",))
def new_request_page() -> tuple[str, int]:
    resubmits = _validated(ResubmitQuery, {"from": request.args.get("from")}).resubmits
    if resubmits is not None:
        source = services.resubmission_source(get_session(), actor=current_principal(),
                                              request_id=resubmits)
        return _form_page(serialise.request_to_json(source, now=utcnow()), resubmits=source.id)
    chosen = [{"id": i, "columns": []} for i in request.args.getlist("dataset")]
    return _form_page({"duration_days": 365, "datasets": chosen})


@bp.post("/requests/new")
@login_required(kinds=("staff",))
def new_request_submit() -> Any:
    payload = form_to_payload(request.form)
    resubmits = _validated(ResubmitQuery, {"from": request.form.get("resubmits")}).resubmits
    try:
        access_request = _submit(_validated(Application, payload), resubmits=resubmits)
    except Invalid as error:
        return _form_page(payload, errors=_form_errors(error), resubmits=resubmits)
    flash(_("Ansøgningen er sendt og vurderet."), "success")
    return redirect(url_for("access.request_page", request_id=access_request.id))


@bp.get("/requests/<int:request_id>")
@login_required(kinds=("staff",))
def request_page(request_id: int) -> tuple[str, int]:
    return _request_page(request_id)


def _request_page(request_id: int, *, errors: list[dict] | None = None,
                  review: dict[str, str] | None = None) -> tuple[str, int]:
    detail = services.request_detail(get_session(), request_id=request_id,
                                     actor=current_principal(), test_beds=engine().test_beds,
                                     now=utcnow())
    page = render_template("access/request.html", detail=detail, r=detail.request,
                           field_errors=_by_field(errors), review=review or {})
    return page, 422 if errors else 200


@bp.get("/requests/<int:request_id>/amend")
@login_required(kinds=("staff",))
def amend_page(request_id: int) -> tuple[str, int]:
    access_request = services.require_access_request(get_session(), request_id=request_id,
                                                     actor=current_principal())
    return _form_page(serialise.request_to_json(access_request, now=utcnow()),
                      request_id=request_id)


@bp.post("/requests/<int:request_id>/amend")
@login_required(kinds=("staff",))
def amend_submit(request_id: int) -> Any:
    payload = form_to_payload(request.form)
    try:
        _amend(request_id, _validated(Application, payload))
    except Invalid as error:
        return _form_page(payload, request_id=request_id, errors=_form_errors(error))
    flash(_("Ansøgningen er sendt igen og vurderet på ny."), "success")
    return redirect(url_for("access.request_page", request_id=request_id))


@bp.post("/requests/<int:request_id>/review")
@login_required(kinds=("staff",))
def review_submit(request_id: int) -> Any:
    posted = {"decision": request.form.get("decision", ""),
              "comment": request.form.get("comment", "")}
    try:
        _review(request_id, _validated(ReviewIn, posted))
    except Invalid as error:
        # The reviewer stays on the case with the message beside the field and the text kept.
        get_session().rollback()
        kept = {**posted, "comment": scrub_cpr(posted["comment"])}  # never echo a CPR number
        return _request_page(request_id, errors=_form_errors(error), review=kept)
    flash(_("Din vurdering er registreret."), "success")
    return redirect(url_for("access.request_page", request_id=request_id))


@bp.get("/reviews")
@login_required(kinds=("staff",))
def reviews_page() -> str:
    queue = services.review_queue(get_session(), actor=current_principal(), now=utcnow())
    return render_template("access/reviews.html", queue=queue,
                           target=sla.REVIEW_WORKING_DAYS)


@bp.post("/permits/<int:permit_id>/revoke")
@login_required(kinds=("staff",))
def revoke_submit(permit_id: int) -> Any:
    permit = _revoke(permit_id, _validated(RevokeIn, {"reason": request.form.get("reason", "")}))
    flash(_("Tilladelsen er tilbagekaldt."), "success")
    return redirect(url_for("access.request_page", request_id=permit.access_request_id))


@bp.get("/register")
def register_page() -> str:
    db = reading_session()
    page = services.page_register(db, paging=_paging(), now=utcnow())
    released = engine().released_results(db, permit_ids=[r.permit.id for r in page.items])
    statistics = engine().public_statistics(db, limit=REGISTER_STATISTICS)
    return render_template("access/register.html", rows=page.items, page=page,
                           released=released, statistics=statistics,
                           purposes={p.code: p for p in consent_services.list_purposes()})
