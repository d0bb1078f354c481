"""HTTP glue of the statistics domain: the feasibility and statistics API, and /statistics."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from marketplace.access import decisions
from marketplace.catalog import services as catalog_services
from marketplace.consent import services as consent_services
from marketplace.db import get_session, utcnow
from marketplace.errors import DomainError
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.security import current_keyring
from marketplace.statistics import pages, services
from marketplace.statistics.schemas import (
    FeasibilityIn,
    FeasibilityOut,
    RegisterOut,
    ResultQuery,
    StatisticsRequestIn,
    StatisticsRequestList,
    StatisticsRequestOut,
    StatisticsRequestPath,
)
from marketplace.web.api import PUBLIC, PageQuery, field_errors, requires
from marketplace.web.api import responses as _documented
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

api = APIBlueprint("statistics_api", __name__, abp_tags=[Tag(name="statistics")])
bp = Blueprint("statistics", __name__)
F = TypeVar("F", bound=Callable[..., Any])
# flask-openapi3 types `responses` more narrowly than the shapes it accepts (problem bodies).
responses: Callable[..., Any] = _documented


def localise(error: DomainError) -> DomainError:
    """Put a service's error into the caller's language (services write Danish source text
    and keep each message's template)."""
    items = []
    for item in error.errors or []:
        template = item.get("template")
        values: Any = item.get("values") or {}
        message = _(template, **values) if template else item["message"]
        items.append({"field": item.get("field", ""), "message": message})
    if items and all(not i["field"] for i in items):
        error.detail, error.errors = items[0]["message"], None
    elif items:
        error.errors = items
        error.detail = _("ugyldige felter: {fields}",
                         fields=", ".join(dict.fromkeys(i["field"] for i in items)))
    return error


def localised(view: F) -> F:
    """Raise the view's domain errors in the caller's language."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            raise localise(error) from None

    return wrapper  # type: ignore[return-value]


def context() -> dict[str, Any]:
    policies: decisions.PolicyBundle = current_app.extensions["marketplace.policies"]
    return {"policies": policies, "keyring": current_keyring(),
            "data_dir": current_app.config["DATA_DIR"]}


# --- API -------------------------------------------------------------------------------------

@api.post("/api/v1/feasibility", responses=responses(200, FeasibilityOut, 401, 403, 409, 422),
          security=[*requires("statistics:request"), {"oauth2": ["access:request"]}])
@api_auth()
@localised
def api_feasibility(body: FeasibilityIn) -> Response:
    """Count the persons an extract would hold after consent and cohort (rounded; null under
    the holders' threshold). Scope access:request or statistics:request."""
    found = services.feasibility(get_session(), actor=current_principal(), query=body,
                                 keyring=context()["keyring"], data_dir=context()["data_dir"],
                                 now=utcnow())
    return jsonify({"persons": found.persons, "rounded_to": found.rounded_to,
                    "suppressed": found.suppressed, "threshold": found.threshold})


@api.post("/api/v1/statistics-requests",
          responses=responses(201, StatisticsRequestOut, 401, 403, 409, 422),
          security=requires("statistics:request"))
@api_auth("statistics:request")
@localised
def api_submit(body: StatisticsRequestIn) -> tuple[Response, int, dict[str, str]]:
    """Ask for anonymous statistics (EHDS Art. 69): decided by the policy engine and, when
    permitted, answered at once with a protected table."""
    db = get_session()
    found = services.submit_statistics_request(db, actor=current_principal(), body=body,
                                               now=utcnow(), **context())
    db.commit()
    location = f"/api/v1/statistics-requests/{found.id}"
    return (jsonify(services.request_to_json(found, language=current_language())), 201,
            {"Location": location})


@api.get("/api/v1/statistics-requests",
         responses=responses(200, StatisticsRequestList, 401, 403, 422),
         security=requires("statistics:request"))
@api_auth()
@localised
def api_list(query: PageQuery) -> Response:
    """The caller's organisation's statistics requests, newest first."""
    items, total = services.list_statistics_requests(
        get_session(), actor=current_principal(), offset=query.offset, limit=query.per_page)
    language = current_language()
    return jsonify({"items": [services.request_to_json(i, language=language) for i in items],
                    "total": total})


@api.get("/api/v1/statistics-requests/<int:request_id>",
         responses=responses(200, StatisticsRequestOut, 401, 404, 422),
         security=requires("statistics:request"))
@api_auth()
@localised
def api_get(path: StatisticsRequestPath) -> Response:
    """One of the caller's statistics requests (404 for other organisations' requests)."""
    found = services.require_visible_request(get_session(), request_id=path.request_id,
                                             actor=current_principal())
    return jsonify(services.request_to_json(found, language=current_language()))


@api.get("/api/v1/statistics-requests/<int:request_id>/result",
         responses=responses(200, None, 401, 404, 409, 422),
         security=requires("statistics:request"))
@api_auth()
@localised
def api_result(path: StatisticsRequestPath, query: ResultQuery) -> Response:
    """The released table as JSON or CSV; the CSV's SHA-256 is in the header
    `X-Content-SHA256` and in the signed manifest."""
    db = get_session()
    found = services.released_result(db, actor=current_principal(),
                                     request_id=path.request_id, fmt=query.format)
    db.commit()
    if query.format == "csv":
        body = services.csv_bytes(found)
        response = Response(body, mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="statistics-{found.id}.csv"')
        response.headers["X-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        return response
    return jsonify({**(found.result or {}), "manifest": found.manifest})


@api.get("/api/v1/statistics-requests/<int:request_id>/manifest",
         responses=responses(200, None, 401, 404, 409, 422),
         security=requires("statistics:request"))
@api_auth()
@localised
def api_manifest(path: StatisticsRequestPath) -> Response:
    """The signed manifest of a released table (verify with the key at
    /.well-known/marketplace-signing-key, not the one embedded)."""
    found = services.released_result(get_session(), actor=current_principal(),
                                     request_id=path.request_id, fmt="manifest")
    get_session().commit()
    return jsonify(found.manifest)


@api.get("/api/v1/statistics-register", responses=responses(200, RegisterOut),
         security=PUBLIC)
def api_register() -> Response:
    """Released statistics, for the public register of data uses (no token)."""
    return jsonify({"items": services.public_statistics_json(get_session())})


# --- pages -----------------------------------------------------------------------------------

def _page(**values: Any) -> str:
    db = get_session()
    principal = current_principal()
    mine, _total = services.list_statistics_requests(db, actor=principal, limit=20)
    datasets = catalog_services.list_published_datasets(db)
    return render_template(
        "statistics/form.html", datasets=datasets, purposes=consent_services.list_purposes(),
        mine=mine, groups=pages.GROUP_CHOICES, **values)


@bp.route("/statistics", methods=["GET", "POST"])
@login_required(kinds=("staff",))
def statistics_page() -> Any:
    """The statistics form; a POST asks and shows the answer."""
    if request.method == "GET":
        return _page(values=pages.empty_values(), errors=[])
    values = pages.form_values(request.form)
    try:
        body = StatisticsRequestIn.model_validate(pages.form_body(values))
    except ValidationError as error:
        return _page(values=values, errors=field_errors(error)), 422
    db = get_session()
    try:
        found = services.submit_statistics_request(db, actor=current_principal(), body=body,
                                                   now=utcnow(), **context())
    except DomainError as error:
        db.rollback()
        localise(error)
        messages = error.translated_errors() or [
                       {"field": "", "message": error.translated_detail()}]
        return _page(values=values, errors=messages), error.status
    db.commit()
    return _show(found)


@bp.get("/statistics/<int:request_id>")
@login_required(kinds=("staff",))
def statistics_result_page(request_id: int) -> str:
    """One statistics request with its table and chart."""
    found = services.require_visible_request(get_session(), request_id=request_id,
                                             actor=current_principal())
    return _show(found)


def _show(found: Any) -> str:
    data = services.request_to_json(found, language=current_language())
    view = pages.result_view(data)
    return render_template("statistics/result.html", request_=data, view=view)
