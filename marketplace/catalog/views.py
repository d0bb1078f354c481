"""HTTP glue of the catalog domain: the JSON API, the HealthDCAT-AP export and the pages."""
from typing import Any
from urllib.parse import urlencode

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

from marketplace.catalog import forms, services
from marketplace.catalog import vocabulary as voc
from marketplace.catalog.descriptor import DEFAULTS
from marketplace.catalog.models import DataVersion
from marketplace.catalog.search import parse_search_args
from marketplace.db import get_session
from marketplace.errors import BadRequest, Conflict, Invalid
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.security import current_keyring
from marketplace.web.charts import bar_chart
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _
from marketplace.web.protection import large_body
from marketplace.web.requests import json_object

bp = Blueprint("catalog", __name__)


def _upload(dataset_id: int, stream: Any, media_type: str) -> DataVersion:
    db = get_session()
    version = services.upload_version(
        db, actor=current_principal(), dataset_id=dataset_id, stream=stream,
        media_type=media_type, keyring=current_keyring(),
        data_dir=current_app.config["DATA_DIR"],
        max_bytes=int(current_app.config["MAX_UPLOAD_BYTES"]))
    db.commit()
    return version


def _media_type(filename: str) -> str:
    return "application/vnd.apache.parquet" if filename.lower().endswith(".parquet") \
        else "text/csv"


def _require_owner(dataset_id: int) -> None:
    services.require_owned_dataset(get_session(), dataset_id=dataset_id,
                                   actor=current_principal())


# --- API ----------------------------------------------------------------------------------

@bp.get("/api/v1/datasets")
def api_search() -> Response:
    """Search the published catalog (full text, facets, paging)."""
    result = services.search_datasets(get_session(), query=parse_search_args(request.args))
    return jsonify({"items": [services.dataset_to_json(d) for d in result.items],
                    "total": result.total, "page": result.query.page,
                    "per_page": result.query.per_page, "facets": result.facets})


@bp.post("/api/v1/datasets")
@api_auth("catalog:write")
def api_create() -> tuple[Response, int, dict]:
    """Create a draft dataset descriptor for the caller's data holder."""
    db = get_session()
    dataset = services.create_dataset(db, actor=current_principal(), data=json_object())
    db.commit()
    return (jsonify(services.dataset_to_json(dataset)), 201,
            {"Location": url_for("catalog.api_get", dataset_id=dataset.id)})


@bp.get("/api/v1/datasets/<int:dataset_id>")
def api_get(dataset_id: int) -> Response:
    """Read one dataset descriptor (drafts only for their holder)."""
    dataset = services.require_visible_dataset(get_session(), dataset_id=dataset_id,
                                               actor=current_principal())
    return jsonify(services.dataset_to_json(dataset))


@bp.patch("/api/v1/datasets/<int:dataset_id>")
@api_auth("catalog:write")
def api_update(dataset_id: int) -> Response:
    """Change fields of a dataset descriptor (owning holder only)."""
    db = get_session()
    dataset = services.update_dataset(db, actor=current_principal(), dataset_id=dataset_id,
                                      data=json_object())
    db.commit()
    return jsonify(services.dataset_to_json(dataset))


@bp.put("/api/v1/datasets/<int:dataset_id>/data")
@large_body
@api_auth("catalog:write")
def api_upload(dataset_id: int) -> Response:
    """Upload a data version (text/csv or application/vnd.apache.parquet) and validate it.

    200 with the quality report when valid; 422 naming each failed expectation with example
    row numbers otherwise (the failed report is kept; the previous valid version stays current).
    """
    if request.mimetype == "multipart/form-data":  # a client that sends the file as a form
        _require_owner(dataset_id)  # before the form is parsed into temp files
        upload = next(iter(request.files.values()), None)
        if upload is None:
            raise BadRequest("the form holds no file; send the data as the request body")
        version = _upload(dataset_id, upload.stream, _media_type(upload.filename or ""))
    else:
        version = _upload(dataset_id, request.stream, request.content_type or "")
    if not version.is_valid:
        raise Invalid(f"data version {version.number} failed validation; see errors and "
                      f"GET /api/v1/datasets/{dataset_id}/quality",
                      errors=services.failed_expectations(version))
    return jsonify(services.version_to_json(version))


@bp.get("/api/v1/datasets/<int:dataset_id>/quality")
def api_quality(dataset_id: int) -> Response:
    """Read the quality report of the latest data version (or ?version=N)."""
    number = request.args.get("version", type=int)
    version = services.quality_report(get_session(), dataset_id=dataset_id,
                                      actor=current_principal(), version_number=number)
    return jsonify(services.version_to_json(version))


@bp.post("/api/v1/datasets/<int:dataset_id>/publish")
@api_auth("catalog:write")
def api_publish(dataset_id: int) -> Response:
    """Publish a dataset; 409 until a data version has passed validation."""
    db = get_session()
    dataset = services.publish_dataset(db, actor=current_principal(), dataset_id=dataset_id)
    db.commit()
    return jsonify(services.dataset_to_json(dataset))


@bp.post("/api/v1/datasets/<int:dataset_id>/retire")
@api_auth("catalog:write")
def api_retire(dataset_id: int) -> Response:
    """Retire a published dataset from the catalog."""
    db = get_session()
    dataset = services.retire_dataset(db, actor=current_principal(), dataset_id=dataset_id)
    db.commit()
    return jsonify(services.dataset_to_json(dataset))


@bp.get("/catalog.ttl")
def export_turtle() -> Response:
    """HealthDCAT-AP (DCAT-AP 3) catalog of every published dataset, as Turtle."""
    body = services.export_catalog(get_session(), base_url=request.url_root, fmt="ttl")
    return Response(body, mimetype="text/turtle")


@bp.get("/catalog.jsonld")
def export_jsonld() -> Response:
    """HealthDCAT-AP (DCAT-AP 3) catalog of every published dataset, as JSON-LD."""
    body = services.export_catalog(get_session(), base_url=request.url_root, fmt="jsonld")
    return Response(body, mimetype="application/ld+json")


# --- pages --------------------------------------------------------------------------------

def _labels() -> dict[str, Any]:
    """Vocabulary labels in the page's language."""
    pick = 1 if current_language() == "en" else 0
    return {name: {code: labels[pick] for code, labels in table.items()}
            for name, table in (("theme", voc.THEMES), ("health_category", voc.HEALTH_CATEGORIES),
                                ("access_rights", voc.ACCESS_RIGHTS_LABELS),
                                ("publisher_level", voc.LEVEL_LABELS))}


@bp.get("/catalog")
def catalog_page() -> str:
    try:
        query = parse_search_args(request.args)
        result, problem = services.search_datasets(get_session(), query=query), None
    except Invalid as error:
        result, problem = services.search_datasets(
            get_session(), query=parse_search_args({})), error
    return render_template("catalog/search.html", result=result, problem=problem,
                           labels=_labels(), page_url=_page_url)


def _page_url(page: int) -> str:
    params = request.args.copy()
    params.setlist("page", [str(page)])
    return url_for("catalog.catalog_page") + "?" + urlencode(list(params.items(multi=True)))


@bp.get("/catalog/<int:dataset_id>")
def dataset_page(dataset_id: int) -> str:
    overview = services.dataset_overview(get_session(), dataset_id=dataset_id,
                                         actor=current_principal())
    return render_template("catalog/dataset.html", o=overview, d=overview.dataset,
                           labels=_labels())


@bp.get("/catalog/<int:dataset_id>/quality")
def quality_page(dataset_id: int) -> str:
    version = services.quality_report(get_session(), dataset_id=dataset_id,
                                      actor=current_principal(),
                                      version_number=request.args.get("version", type=int))
    report = version.report
    chart = bar_chart([(name, round(100 * share, 1))
                       for name, share in report.get("completeness", {}).items()],
                      title=_("Udfyldte værdier pr. kolonne (%)"), max_value=100, unit=" %")
    return render_template("catalog/quality.html", version=version, report=report,
                           chart=chart, dataset_id=dataset_id,
                           rule_labels={rule: _(text) for rule, text in _RULES.items()})


_RULES = {
    "type": "Værdierne har den rigtige type",
    "required": "Ingen værdier mangler",
    "range": "Værdierne ligger inden for intervallet",
    "allowed": "Værdierne er blandt de tilladte koder",
    "pattern": "Værdierne følger kodesystemet eller mønsteret",
    "cpr": "Værdierne er gyldige CPR-numre",
    "unique": "Værdierne er unikke",
}


@bp.get("/catalog/mine")
@login_required(kinds=("staff",))
def holder_page() -> str:
    datasets = services.list_holder_datasets(get_session(), actor=current_principal())
    return render_template("catalog/mine.html", datasets=datasets, labels=_labels())


def _form_page(dataset: Any, descriptor: dict, *, errors: list | None = None,
               status: int = 200) -> tuple[str, int]:
    return render_template(
        "catalog/form.html", dataset=dataset, d=descriptor, errors=errors or [],
        rows=forms.form_rows(descriptor.get("columns") or []), voc=voc, labels=_labels(),
        options=_FORM_OPTIONS), status


_FORM_OPTIONS = {
    "identifier_kind": [("", "–")] + [(k, k) for k in voc.IDENTIFIER_KINDS],
    "generalise": [(g, g or "–") for g in forms.GENERALISE_CHOICES],
    "concept": [("", "–")] + [(k, k) for k in voc.CONCEPTS],
    "code_system": [("", "–")] + [(k, k) for k in voc.CODE_SYSTEMS],
}


@bp.route("/catalog/new", methods=["GET", "POST"])
@login_required(kinds=("staff",))
def new_page() -> Any:
    if request.method == "GET":
        return _form_page(None, dict(DEFAULTS))
    descriptor = forms.descriptor_from_form(request.form)
    db = get_session()
    try:
        dataset = services.create_dataset(db, actor=current_principal(), data=descriptor)
    except Invalid as error:
        return _form_page(None, descriptor, errors=error.errors or [], status=422)
    db.commit()
    flash(_("Datasættet er oprettet som kladde. Upload nu en dataversion."), "success")
    return redirect(url_for("catalog.upload_page", dataset_id=dataset.id))


@bp.route("/catalog/<int:dataset_id>/edit", methods=["GET", "POST"])
@login_required(kinds=("staff",))
def edit_page(dataset_id: int) -> Any:
    db = get_session()
    if request.method == "GET":
        dataset = services.require_owned_dataset(db, dataset_id=dataset_id,
                                                 actor=current_principal())
        return _form_page(dataset, services.descriptor_fields(dataset))
    descriptor = forms.descriptor_from_form(request.form)
    try:
        dataset = services.update_dataset(db, actor=current_principal(), dataset_id=dataset_id,
                                          data=descriptor)
    except (Invalid, Conflict) as error:
        dataset = services.require_owned_dataset(db, dataset_id=dataset_id,
                                                 actor=current_principal())
        errors = error.errors or [{"field": "", "message": error.detail}]
        return _form_page(dataset, descriptor, errors=errors, status=error.status)
    db.commit()
    flash(_("Ændringerne er gemt."), "success")
    return redirect(url_for("catalog.dataset_page", dataset_id=dataset.id))


@bp.route("/catalog/<int:dataset_id>/upload", methods=["GET", "POST"])
@large_body
@login_required(kinds=("staff",))
def upload_page(dataset_id: int) -> Any:
    if request.method == "GET":
        dataset = services.require_owned_dataset(get_session(), dataset_id=dataset_id,
                                                 actor=current_principal())
        return render_template("catalog/upload.html", d=dataset)
    _require_owner(dataset_id)  # before the form is parsed into temp files
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest(_("Vælg en CSV- eller Parquet-fil."))
    version = _upload(dataset_id, upload.stream, _media_type(upload.filename))
    if version.is_valid:
        flash(_("Dataversion {n} er gyldig.", n=version.number), "success")
    else:
        flash(_("Dataversion {n} bestod ikke valideringen. Se rapporten.", n=version.number),
              "error")
    return redirect(url_for("catalog.quality_page", dataset_id=dataset_id,
                            version=version.number))


@bp.post("/catalog/<int:dataset_id>/publish")
@login_required(kinds=("staff",))
def publish_page(dataset_id: int) -> Response:
    return _change_status(services.publish_dataset, dataset_id,
                          _("Datasættet er udgivet i kataloget."))


@bp.post("/catalog/<int:dataset_id>/retire")
@login_required(kinds=("staff",))
def retire_page(dataset_id: int) -> Response:
    return _change_status(services.retire_dataset, dataset_id,
                          _("Datasættet er trukket tilbage fra kataloget."))


def _change_status(change: Any, dataset_id: int, message: str) -> Response:
    db = get_session()
    try:
        change(db, actor=current_principal(), dataset_id=dataset_id)
    except Conflict as error:
        flash(_(_CONFLICTS.get(error.detail, error.detail)), "error")
    else:
        db.commit()
        flash(message, "success")
    return redirect(url_for("catalog.dataset_page", dataset_id=dataset_id))


_CONFLICTS = {
    "upload a data version that passes validation before publishing":
        "Upload en dataversion, der består valideringen, før datasættet kan udgives.",
    "a draft is not published; there is nothing to retire":
        "En kladde er ikke udgivet og kan ikke trækkes tilbage.",
    "a retired dataset stays retired; create a new dataset instead":
        "Et tilbagetrukket datasæt kan ikke udgives igen. Opret et nyt datasæt.",
}
