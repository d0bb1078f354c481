"""HTTP glue of the data holder's side of statistics: the review queue of requests a rule sent
to review, and each dataset's disclosure rules."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from marketplace.db import get_session, utcnow
from marketplace.errors import DomainError, NotFound
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.statistics import rules, services
from marketplace.statistics.schemas import (
    StatisticsPolicyIn,
    StatisticsPolicyOut,
    StatisticsPolicyPath,
    StatisticsRequestOut,
    StatisticsRequestPath,
    StatisticsReviewIn,
    StatisticsReviewQueue,
)
from marketplace.statistics.views import context, localise, localised
from marketplace.web.api import MAX_ID, field_errors, requires
from marketplace.web.api import responses as _documented
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

holder_api = APIBlueprint("statistics_holder_api", __name__,
                          abp_tags=[Tag(name="statistics")])
holder_pages = Blueprint("statistics_holder", __name__)
# flask-openapi3 types `responses` more narrowly than the shapes it accepts (problem bodies).
responses: Callable[..., Any] = _documented


def _item_json(item: services.ReviewItem) -> dict[str, Any]:
    found = item.request
    return {**services.request_to_json(found, language=current_language()),
            "company": item.company, "dataset_title": item.dataset_title,
            "description": found.description, "requested_by": found.requested_by,
            "due_at": item.due_at.isoformat(),
            "working_days_left": item.working_days_left(utcnow())}


# --- API -------------------------------------------------------------------------------------

@holder_api.get("/api/v1/statistics-reviews",
                responses=responses(200, StatisticsReviewQueue, 401, 403),
                security=requires("access:review"))
@api_auth("access:review")
@localised
def api_review_queue() -> Response:
    """The statistics requests a rule sent to the caller's data holder, oldest first."""
    queue = services.review_queue(get_session(), actor=current_principal())
    return jsonify({"items": [_item_json(item) for item in queue], "total": len(queue)})


@holder_api.post("/api/v1/statistics-requests/<int:request_id>/review",
                 responses=responses(200, StatisticsRequestOut, 401, 403, 404, 409, 422),
                 security=requires("access:review"))
@api_auth("access:review")
@localised
def api_review(path: StatisticsRequestPath, body: StatisticsReviewIn) -> Response:
    """Release (approve) or refuse (reject, with a comment) a request waiting for the holder;
    a released table is computed now and delivered as an automatic answer is."""
    db = get_session()
    found = services.review_statistics_request(
        db, actor=current_principal(), request_id=path.request_id, review=body, now=utcnow(),
        keyring=context()["keyring"], data_dir=context()["data_dir"])
    db.commit()
    return jsonify(services.request_to_json(found, language=current_language()))


@holder_api.get("/api/v1/datasets/<int:dataset_id>/statistics-policy",
                responses=responses(200, StatisticsPolicyOut, 401, 404, 422),
                security=requires())
@api_auth()
@localised
def api_policy(path: StatisticsPolicyPath) -> Response:
    """A dataset's statistics rules: threshold, rounding base and privacy budget."""
    return jsonify(rules.read_statistics_policy(get_session(), actor=current_principal(),
                                                dataset_id=path.dataset_id))


@holder_api.put("/api/v1/datasets/<int:dataset_id>/statistics-policy",
                responses=responses(200, StatisticsPolicyOut, 401, 403, 404, 422),
                security=requires("catalog:write"))
@api_auth("catalog:write")
@localised
def api_set_policy(path: StatisticsPolicyPath, body: StatisticsPolicyIn) -> Response:
    """Set a dataset's statistics rules (the holder's administrators; never below the
    platform's floor or the dataset's k)."""
    db = get_session()
    stored = rules.set_statistics_policy(db, actor=current_principal(),
                                         dataset_id=path.dataset_id, policy=body)
    db.commit()
    return jsonify(stored)


# --- pages -----------------------------------------------------------------------------------

def _page_id(value: int) -> int:
    # Flask's <int:> takes any size; ids beyond 32 bits name nothing.
    if value > MAX_ID:
        raise NotFound("siden findes ikke")
    return value


@holder_pages.get("/statistics-reviews")
@login_required(kinds=("staff",))
def review_queue_page() -> str:
    queue = services.review_queue(get_session(), actor=current_principal())
    return render_template("statistics/review_queue.html", queue=queue, now=utcnow(),
                           target=services.REVIEW_WORKING_DAYS)


def _review_page(request_id: int, *, errors: dict[str, str], form: dict[str, str]) -> str:
    db = get_session()
    found = services.require_reviewable_request(db, actor=current_principal(),
                                                request_id=_page_id(request_id))
    item = services.review_item(db, found)
    return render_template("statistics/review.html", item=item, view=_item_json(item),
                           errors=errors, form=form)


@holder_pages.get("/statistics-reviews/<int:request_id>")
@login_required(kinds=("staff",))
def review_page(request_id: int) -> str:
    return _review_page(request_id, errors={}, form={})


@holder_pages.post("/statistics-reviews/<int:request_id>")
@login_required(kinds=("staff",))
def review_submit(request_id: int) -> ResponseReturnValue:
    form = {"decision": request.form.get("decision", ""),
            "comment": request.form.get("comment", "")}
    db = get_session()
    try:
        review = StatisticsReviewIn.model_validate(form)
        found = services.review_statistics_request(
            db, actor=current_principal(), request_id=_page_id(request_id), review=review,
            now=utcnow(), keyring=context()["keyring"], data_dir=context()["data_dir"])
    except ValidationError as error:
        errors = {_field(item["field"]): item["message"] for item in field_errors(error)}
        return _review_page(request_id, errors=errors, form=form), 422
    except DomainError as error:
        if error.status in (403, 404):
            raise
        db.rollback()
        localise(error)
        errors = {"decision": "; ".join(e["message"] for e in error.errors or [])
                  or error.detail}
        return _review_page(request_id, errors=errors, form=form), error.status
    db.commit()
    if found.status == "released":
        flash(_("Tabellen er frigivet til virksomheden."), "success")
    else:
        flash(_("Forespørgslen er afvist, og virksomheden kan se jeres begrundelse."), "success")
    return redirect(url_for("statistics_holder.review_queue_page"))


def _field(name: str) -> str:
    # The refusal's comment rule is a rule of the whole body; it belongs beside the comment.
    return name if name in ("decision", "comment") else "comment"


@holder_pages.get("/datasets/<int:dataset_id>/statistics-policy")
@login_required(kinds=("staff",))
def policy_page(dataset_id: int) -> str:
    db = get_session()
    dataset = rules.owned_dataset(db, actor=current_principal(), dataset_id=_page_id(dataset_id))
    return render_template("statistics/policy.html", dataset=dataset,
                           policy=rules.policy_to_json(db, dataset=dataset), errors={})


@holder_pages.post("/datasets/<int:dataset_id>/statistics-policy")
@login_required(kinds=("staff",))
def policy_submit(dataset_id: int) -> ResponseReturnValue:
    db = get_session()
    actor = current_principal()
    dataset = rules.owned_dataset(db, actor=actor, dataset_id=_page_id(dataset_id))
    names = ("threshold", "rounding_base", "epsilon_budget", "epsilon_per_request")
    # A Danish decimal comma is as good as a point.
    raw = {name: request.form.get(name, "").strip()[:40].replace(",", ".") for name in names}
    shown = {**rules.policy_to_json(db, dataset=dataset), **raw}
    try:
        body = StatisticsPolicyIn.model_validate(raw)
        rules.set_statistics_policy(db, actor=actor, dataset_id=dataset.id, policy=body)
    except ValidationError as error:
        errors = {item["field"]: item["message"] for item in field_errors(error)}
        return render_template("statistics/policy.html", dataset=dataset, policy=shown,
                               errors=errors), 422
    except DomainError as error:
        if error.status != 422:
            raise
        db.rollback()
        localise(error)
        errors = {item["field"]: item["message"] for item in error.errors or []} or \
            {"threshold": error.detail}
        return render_template("statistics/policy.html", dataset=dataset, policy=shown,
                               errors=errors), 422
    db.commit()
    flash(_("Reglerne for statistik er gemt."), "success")
    return redirect(url_for("statistics_holder.policy_page", dataset_id=dataset.id))
