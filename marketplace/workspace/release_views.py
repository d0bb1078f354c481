"""HTTP glue of output review and release: the checkers' API and pages, downloads, manifests and
the holders' output rules."""
from __future__ import annotations

from pathlib import Path
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
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from marketplace.db import get_session, utcnow
from marketplace.errors import Invalid, NotFound
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.security import current_keyring
from marketplace.web.api import MAX_ID, field_errors, requires
from marketplace.web.api import responses as _responses
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _
from marketplace.workspace import release
from marketplace.workspace.release_schemas import (
    OutputPath,
    OutputPolicyIn,
    OutputPolicyOut,
    OutputReviewIn,
    PolicyDatasetPath,
    QueueOut,
    ReleaseManifestOut,
    ReleaseOutputOut,
)


def responses(*spec: Any) -> Any:
    """The documented responses of an operation (typed loosely for flask-openapi3's signature)."""
    return _responses(*spec)


release_api = APIBlueprint("release_api", __name__, abp_tags=[Tag(name="output release")])
release_pages = Blueprint("release_pages", __name__)


def _data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


# --- API -----------------------------------------------------------------------------------------


@release_api.get("/api/v1/output-reviews", responses=responses(200, QueueOut, 401, 403),
                 security=requires("output:check"))
@api_auth("output:check")
def api_review_queue() -> Response:
    """The data holder's outputs waiting for review, the most urgent first, with the clock."""
    db, now = get_session(), utcnow()
    queue = release.review_queue(db, actor=current_principal(), now=now)
    items = [release.output_to_json(db, state.output, now=now) for state in queue]
    return jsonify({"items": items, "total": len(items),
                    "target_working_days": release.TARGET_WORKING_DAYS})


@release_api.get("/api/v1/outputs/<int:output_id>",
                 responses=responses(200, ReleaseOutputOut, 401, 403, 404, 422),
                 security=requires())
@api_auth()
def api_output(path: OutputPath) -> Response:
    """One output: its checks, reviews and review clock (its company and the holder's
    checkers)."""
    db, now = get_session(), utcnow()
    output = release.require_visible_output(db, actor=current_principal(),
                                            output_id=path.output_id)
    return jsonify(release.output_to_json(db, output, now=now))


@release_api.post("/api/v1/outputs/<int:output_id>/reviews",
                  responses=responses(201, ReleaseOutputOut, 401, 403, 404, 409, 422),
                  security=requires("output:check"))
@api_auth("output:check")
def api_review(path: OutputPath, body: OutputReviewIn) -> tuple[Response, int]:
    """Approve, reject or ask for changes (with a comment); two different checkers release."""
    db, now = get_session(), utcnow()
    output = release.review_output(db, actor=current_principal(), output_id=path.output_id,
                                   review=body, keyring=current_keyring(),
                                   data_dir=_data_dir(), now=now)
    db.commit()
    return jsonify(release.output_to_json(db, output, now=now)), 201


@release_api.get("/api/v1/outputs/<int:output_id>/data",
                 responses=responses(200, None, 401, 403, 404, 409, 422), security=requires())
@api_auth()
def api_output_data(path: OutputPath) -> Response:
    """The released file, to the permit's company only (409 before release)."""
    db = get_session()
    download = release.download_output(db, actor=current_principal(), output_id=path.output_id,
                                       keyring=current_keyring(), data_dir=_data_dir())
    db.commit()
    headers = {"Content-Disposition": f'attachment; filename="{download.filename}"',
               "Cache-Control": "no-store",
               "X-Content-SHA256": download.output.manifest["sha256"]}  # type: ignore[index]
    return Response(stream_with_context(download.body), mimetype=download.media_type,
                    headers=headers)


@release_api.get("/api/v1/outputs/<int:output_id>/manifest",
                 responses=responses(200, ReleaseManifestOut, 401, 403, 404, 409, 422),
                 security=requires())
@api_auth()
def api_output_manifest(path: OutputPath) -> Response:
    """The Ed25519-signed release manifest (verify with /.well-known/marketplace-signing-key)."""
    return jsonify(release.output_manifest(get_session(), actor=current_principal(),
                                           output_id=path.output_id))


@release_api.get("/api/v1/datasets/<int:dataset_id>/output-policy",
                 responses=responses(200, OutputPolicyOut, 401, 404, 422), security=requires())
@api_auth()
def api_output_policy(path: PolicyDatasetPath) -> Response:
    """A dataset's output rules: cell threshold, checkers required, allowed file types."""
    policy = release.read_output_policy(get_session(), actor=current_principal(),
                                        dataset_id=path.dataset_id)
    return jsonify(release.policy_to_json(policy))


@release_api.put("/api/v1/datasets/<int:dataset_id>/output-policy",
                 responses=responses(200, OutputPolicyOut, 401, 403, 404, 422),
                 security=requires("catalog:write"))
@api_auth()
def api_set_output_policy(path: PolicyDatasetPath, body: OutputPolicyIn) -> Response:
    """Set a dataset's output rules (the holder's administrators)."""
    db = get_session()
    policy = release.set_output_policy(db, actor=current_principal(),
                                       dataset_id=path.dataset_id, policy=body)
    db.commit()
    return jsonify(release.policy_to_json(policy))


# --- pages ---------------------------------------------------------------------------------------


def _page_id(value: int) -> int:
    # Flask's <int:> takes any size; ids beyond 32 bits name nothing.
    if value > MAX_ID:
        raise NotFound("siden findes ikke")
    return value


@release_pages.get("/output-reviews")
@login_required(kinds=("staff",))
def review_queue_page() -> str:
    db, now = get_session(), utcnow()
    queue = release.review_queue(db, actor=current_principal(), now=now)
    return render_template("workspace/review_queue.html", queue=queue,
                           target=release.TARGET_WORKING_DAYS)


def _review_context(output_id: int) -> dict:
    db, now = get_session(), utcnow()
    actor = current_principal()
    output = release.require_checkable_output(db, actor=actor, output_id=_page_id(output_id))
    state = release.review_state(db, output, now=now)
    return {"state": state, "output": output, "job": output.job,
            "view": release.output_to_json(db, output, now=now, language=current_language()),
            "already": release.reviewer_key(actor) in {r.reviewer for r in output.reviews}}


@release_pages.get("/output-reviews/<int:output_id>")
@login_required(kinds=("staff",))
def review_page(output_id: int) -> str:
    return render_template("workspace/review_output.html", **_review_context(output_id),
                           errors={}, form={})


@release_pages.post("/output-reviews/<int:output_id>")
@login_required(kinds=("staff",))
def review_submit(output_id: int) -> ResponseReturnValue:
    form = {"decision": request.form.get("decision", ""),
            "comment": request.form.get("comment", "")}
    db = get_session()
    try:
        review = OutputReviewIn.model_validate(form)
        output = release.review_output(db, actor=current_principal(),
                                       output_id=_page_id(output_id), review=review,
                                       keyring=current_keyring(), data_dir=_data_dir(),
                                       now=utcnow())
    except ValidationError as error:
        errors = {item["field"] or "decision": item["message"] for item in field_errors(error)}
        return render_template("workspace/review_output.html", **_review_context(output_id),
                               errors=errors, form=form), 422
    except Invalid as error:
        # The one rule the model cannot know: a failed check needs the checker's reasoning.
        db.rollback()
        errors = ({"comment": _("forklar, hvorfor resultatet er sikkert, selv om en kontrol "
                                "fejlede")} if error.errors
                  else {"decision": error.translated_detail()})
        return render_template("workspace/review_output.html", **_review_context(output_id),
                               errors=errors, form=form), 422
    db.commit()
    if output.status == "released":
        flash(_("Resultatet er frigivet til virksomheden."), "success")
    else:
        flash(_("Din vurdering er gemt."), "success")
    return redirect(url_for("release_pages.review_queue_page"))


@release_pages.get("/outputs/<int:output_id>")
@login_required(kinds=("staff",))
def output_page(output_id: int) -> str:
    db, now = get_session(), utcnow()
    output = release.require_visible_output(db, actor=current_principal(),
                                            output_id=_page_id(output_id))
    return render_template(
        "workspace/output_detail.html", output=output,
        view=release.output_to_json(db, output, now=now, language=current_language()),
        is_company=current_principal().belongs_to(output.job.company_org_id))


@release_pages.get("/datasets/<int:dataset_id>/output-policy")
@login_required(kinds=("staff",))
def output_policy_page(dataset_id: int) -> str:
    db = get_session()
    dataset_id = _page_id(dataset_id)
    policy = release.read_output_policy(db, actor=current_principal(), dataset_id=dataset_id)
    return render_template("workspace/output_policy.html", policy=release.policy_to_json(policy),
                           dataset_id=dataset_id, errors={})


@release_pages.post("/datasets/<int:dataset_id>/output-policy")
@login_required(kinds=("staff",))
def output_policy_submit(dataset_id: int) -> ResponseReturnValue:
    db = get_session()
    dataset_id = _page_id(dataset_id)
    raw = {"cell_threshold": request.form.get("cell_threshold", ""),
           "checkers_required": request.form.get("checkers_required", ""),
           "allowed_types": request.form.getlist("allowed_types")}
    try:
        body = OutputPolicyIn.model_validate(raw)
    except ValidationError as error:
        errors = {item["field"].split("[")[0]: item["message"] for item in field_errors(error)}
        shown = {"dataset_id": dataset_id, **raw}
        return render_template("workspace/output_policy.html", policy=shown,
                               dataset_id=dataset_id, errors=errors), 422
    release.set_output_policy(db, actor=current_principal(), dataset_id=dataset_id, policy=body)
    db.commit()
    flash(_("Reglerne for resultater er gemt."), "success")
    return redirect(url_for("release_pages.output_policy_page", dataset_id=dataset_id))
