"""HTTP glue of the access domain: the JSON API and the pages for applicants and reviewers."""
from __future__ import annotations

from typing import Any

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

from marketplace.access import decisions, serialise, services, sla
from marketplace.access.applications import parse_application
from marketplace.access.forms import form_to_payload, payload_to_form
from marketplace.access.messages import danish_errors
from marketplace.access.paging import Page, parse_page_request
from marketplace.db import get_session, utcnow
from marketplace.errors import Invalid
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.security import current_keyring
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _
from marketplace.web.requests import json_object

bp = Blueprint("access", __name__)


def _engine_arguments() -> dict[str, Any]:
    policies: decisions.PolicyBundle = current_app.extensions["marketplace.policies"]
    return {"policies": policies, "keyring": current_keyring(),
            "data_dir": current_app.config["DATA_DIR"]}


def _submit(payload: Any) -> Any:
    db = get_session()
    access_request = services.submit_application(
        db, actor=current_principal(), application=parse_application(payload), now=utcnow(),
        **_engine_arguments())
    db.commit()
    return access_request


def _amend(request_id: int, payload: Any) -> Any:
    db = get_session()
    access_request = services.amend_application(
        db, actor=current_principal(), request_id=request_id,
        application=parse_application(payload), now=utcnow(), **_engine_arguments())
    db.commit()
    return access_request


def _review(request_id: int, decision: Any, comment: Any) -> Any:
    db = get_session()
    access_request = services.review_application(
        db, actor=current_principal(), request_id=request_id, decision=str(decision or ""),
        comment=str(comment or ""), now=utcnow())
    db.commit()
    return access_request


def _revoke(permit_id: int, reason: Any) -> Any:
    db = get_session()
    permit = services.revoke_permit(db, actor=current_principal(), permit_id=permit_id,
                                    reason=str(reason or ""), now=utcnow())
    db.commit()
    return permit


# --- API ------------------------------------------------------------------------------------

@bp.post("/api/v1/access-requests")
@api_auth("access:request")
def api_submit() -> tuple[Response, int, dict]:
    """Apply for data; the policy engine decides at once (permit, deny or review)."""
    access_request = _submit(json_object())
    return (jsonify(serialise.request_to_json(access_request, now=utcnow())), 201,
            {"Location": url_for("access.api_get", request_id=access_request.id)})


def _page_json(page: Page, items: list[dict]) -> dict[str, Any]:
    return {"items": items, "total": page.total, "page": page.page, "per_page": page.per_page}


@bp.get("/api/v1/access-requests")
@api_auth()
def api_list() -> Response:
    """List the applications the caller may see (own, or touching the caller's datasets).

    Paged: `page` (from 1) and `per_page` (1 to 200, default 50); `total` counts them all.
    """
    now = utcnow()
    page = services.page_access_requests(get_session(), actor=current_principal(),
                                         paging=parse_page_request(request.args))
    return jsonify(_page_json(page, [serialise.request_to_json(r, now=now) for r in page.items]))


@bp.get("/api/v1/access-requests/<int:request_id>")
@api_auth()
def api_get(request_id: int) -> Response:
    """Read one application with its decision, every reason, reviews and permit."""
    access_request = services.require_access_request(get_session(), request_id=request_id,
                                                     actor=current_principal())
    return jsonify(serialise.request_to_json(access_request, now=utcnow()))


@bp.put("/api/v1/access-requests/<int:request_id>")
@api_auth("access:request")
def api_amend(request_id: int) -> Response:
    """Resubmit an application the data holders asked to change; it is decided afresh."""
    access_request = _amend(request_id, json_object())
    return jsonify(serialise.request_to_json(access_request, now=utcnow()))


@bp.post("/api/v1/access-requests/<int:request_id>/review")
@api_auth("access:review")
def api_review(request_id: int) -> Response:
    """Approve, reject or ask for changes (body: decision, comment) as a data holder."""
    body = json_object()
    access_request = _review(request_id, body.get("decision"), body.get("comment"))
    return jsonify(serialise.request_to_json(access_request, now=utcnow()))


@bp.get("/api/v1/reviews")
@api_auth("access:review")
def api_review_queue() -> Response:
    """List the applications awaiting the caller's review, the most urgent first."""
    now = utcnow()
    queue = services.review_queue(get_session(), actor=current_principal(), now=now)
    return jsonify({"items": [
        {"access_request": serialise.request_to_json(item.request, now=now),
         "due_at": item.task.due_at.isoformat(), "working_days_left": item.working_days_left,
         "overdue": item.overdue} for item in queue]})


@bp.get("/api/v1/permits/<int:permit_id>")
@api_auth()
def api_permit(permit_id: int) -> Response:
    """Read a permit: conditions, duties, validity and status."""
    permit = services.require_visible_permit(get_session(), permit_id=permit_id,
                                             actor=current_principal())
    return jsonify(serialise.permit_to_json(permit, now=utcnow()))


@bp.post("/api/v1/permits/<int:permit_id>/revoke")
@api_auth()
def api_revoke(permit_id: int) -> Response:
    """Revoke a permit (a holder of a covered dataset or the operator; body: reason)."""
    permit = _revoke(permit_id, json_object().get("reason"))
    return jsonify(serialise.permit_to_json(permit, now=utcnow()))


@bp.get("/api/v1/register")
def api_register() -> Response:
    """The public register of approved data uses: who, what, why, until when.

    Paged: `page` (from 1) and `per_page` (1 to 200, default 50); `total` counts them all.
    """
    page = services.page_register(get_session(), paging=parse_page_request(request.args),
                                  now=utcnow())
    return jsonify(_page_json(page, [serialise.register_row_to_json(r) for r in page.items]))


@bp.get("/api/v1/access-policies")
def api_policies() -> Response:
    """The access rules in force: the bundle's version and each rule's id, outcome and reason."""
    policies: decisions.PolicyBundle = current_app.extensions["marketplace.policies"]
    return jsonify({"policy_version": policies.version, "rules": [
        {"id": r.id, "outcome": r.outcome, "reason": r.reason, "reason_da": r.reason_da}
        for r in policies.rules]})


# --- pages ----------------------------------------------------------------------------------

@bp.get("/requests")
@login_required(kinds=("staff",))
def requests_page() -> str:
    page = services.page_access_requests(get_session(), actor=current_principal(),
                                         paging=parse_page_request(request.args))
    return render_template("access/requests.html", items=page.items, page=page)


def _form_page(payload: dict, *, errors: list[dict] | None = None,
               request_id: int | None = None) -> tuple[str, int]:
    values = payload_to_form(payload)
    chosen = [int(i) for i in values["datasets"] if i.isdigit() and len(i) < 10]
    q = request.args.get("q", "")
    options = services.application_form_options(get_session(), q=q, chosen=chosen)
    shown = danish_errors(errors or []) if current_language() == "da" else errors or []
    return render_template("access/form.html", options=options, values=values, q=q,
                           errors=shown, request_id=request_id), 422 if errors else 200


@bp.get("/requests/new")
@login_required(kinds=("staff",))
def new_request_page() -> tuple[str, int]:
    chosen = [{"id": i, "columns": []} for i in request.args.getlist("dataset")]
    return _form_page({"duration_days": 365, "datasets": chosen})


@bp.post("/requests/new")
@login_required(kinds=("staff",))
def new_request_submit() -> Any:
    payload = form_to_payload(request.form)
    try:
        access_request = _submit(payload)
    except Invalid as error:
        return _form_page(payload, errors=error.errors or [{"field": "", "message": error.detail}])
    flash(_("Ansøgningen er sendt og vurderet."), "success")
    return redirect(url_for("access.request_page", request_id=access_request.id))


@bp.get("/requests/<int:request_id>")
@login_required(kinds=("staff",))
def request_page(request_id: int) -> str:
    detail = services.request_detail(get_session(), request_id=request_id,
                                     actor=current_principal(), now=utcnow())
    return render_template("access/request.html", detail=detail, r=detail.request)


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
        _amend(request_id, payload)
    except Invalid as error:
        return _form_page(payload, request_id=request_id,
                          errors=error.errors or [{"field": "", "message": error.detail}])
    flash(_("Ansøgningen er sendt igen og vurderet på ny."), "success")
    return redirect(url_for("access.request_page", request_id=request_id))


@bp.post("/requests/<int:request_id>/review")
@login_required(kinds=("staff",))
def review_submit(request_id: int) -> Any:
    _review(request_id, request.form.get("decision"), request.form.get("comment"))
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
    permit = _revoke(permit_id, request.form.get("reason"))
    flash(_("Tilladelsen er tilbagekaldt."), "success")
    return redirect(url_for("access.request_page", request_id=permit.access_request_id))


@bp.get("/register")
def register_page() -> str:
    page = services.page_register(get_session(), paging=parse_page_request(request.args),
                                  now=utcnow())
    return render_template("access/register.html", rows=page.items, page=page)
