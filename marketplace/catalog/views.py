"""HTTP glue of the catalog domain: the JSON API, the HealthDCAT-AP export and the pages."""
import dataclasses
import secrets
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
from flask_openapi3 import APIBlueprint, Tag
from flask_openapi3.types import ResponseDict
from pydantic import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from marketplace.catalog import forms, search, services
from marketplace.catalog import vocabulary as voc
from marketplace.catalog.descriptor import DEFAULTS, Descriptor, DescriptorChanges
from marketplace.catalog.models import DataVersion
from marketplace.catalog.schemas import (
    DatasetOut,
    DatasetPage,
    DatasetPath,
    DatasetSearch,
    DataUpload,
    DataVersionOut,
    QualityQuery,
)
from marketplace.catalog.search import SearchQuery
from marketplace.db import get_session, reading_session
from marketplace.errors import BadRequest, Conflict, Invalid
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.languages import N_
from marketplace.security import current_keyring
from marketplace.web.api import PUBLIC, field_errors, requires, responses, validation_problem
from marketplace.web.charts import bar_chart
from marketplace.web.i18n import gettext as _
from marketplace.web.protection import large_body

api = APIBlueprint("catalog_api", __name__, abp_tags=[Tag(name="catalog")])
bp = Blueprint("catalog", __name__)
# A PATCH is validated as a whole after it is laid over the stored descriptor.
api.register_error_handler(ValidationError, validation_problem)


def _upload(dataset_id: int, stream: Any, media_type: str,
            upload_token: str | None = None) -> DataVersion:
    db = get_session()
    # A refusal is Danish source text with its templates kept: the answer translates it.
    version = services.upload_version(
        db, actor=current_principal(), dataset_id=dataset_id, stream=stream,
        media_type=media_type, keyring=current_keyring(),
        data_dir=current_app.config["DATA_DIR"],
        max_bytes=int(current_app.config["MAX_UPLOAD_BYTES"]), upload_token=upload_token)
    db.commit()
    return version


def _upload_token(value: str | None) -> str | None:
    """The token that makes an upload idempotent (form field or Idempotency-Key header)."""
    return (value or "").strip() or None


def _media_type(filename: str) -> str:
    return "application/vnd.apache.parquet" if filename.lower().endswith(".parquet") \
        else "text/csv"


def _require_owner(dataset_id: int) -> None:
    services.require_owned_dataset(get_session(), dataset_id=dataset_id,
                                   actor=current_principal())


def _dataset(dataset: Any) -> Response:
    return jsonify(services.dataset_to_json(dataset))


# --- API ----------------------------------------------------------------------------------

@api.get("/api/v1/datasets", responses=responses(200, DatasetPage, 422), security=PUBLIC)
def api_search(query: DatasetSearch) -> Response:
    """Search the published catalog (full text, facets, paging)."""
    return Response(services.search_catalog_json(reading_session(), query=query.to_search()),
                    mimetype="application/json")


@api.post("/api/v1/datasets", responses=responses(201, DatasetOut, 400, 401, 403, 422),
          security=requires("catalog:write"))
@api_auth("catalog:write")
def api_create(body: Descriptor) -> tuple[Response, int, dict]:
    """Create a draft dataset descriptor for the caller's data holder."""
    db = get_session()
    dataset = services.create_dataset(db, actor=current_principal(), descriptor=body)
    db.commit()
    return (_dataset(dataset), 201,
            {"Location": url_for("catalog_api.api_get", dataset_id=dataset.id)})


@api.get("/api/v1/datasets/<int:dataset_id>", responses=responses(200, DatasetOut, 404, 422),
         security=PUBLIC)
def api_get(path: DatasetPath) -> Response:
    """Read one dataset descriptor (drafts only for their holder)."""
    return _dataset(services.require_visible_dataset(
        get_session(), dataset_id=path.dataset_id, actor=current_principal()))


@api.patch("/api/v1/datasets/<int:dataset_id>",
           responses=responses(200, DatasetOut, 400, 401, 403, 404, 409, 422),
           security=requires("catalog:write"))
@api_auth("catalog:write")
def api_update(path: DatasetPath, body: DescriptorChanges) -> Response:
    """Change fields of a dataset descriptor (owning holder only)."""
    db = get_session()
    dataset = services.update_dataset(db, actor=current_principal(),
                                      dataset_id=path.dataset_id, changes=body)
    db.commit()
    return _dataset(dataset)


@api.put("/api/v1/datasets/<int:dataset_id>/data",
         responses=responses(200, DataVersionOut, 400, 401, 403, 404, 409, 413, 422),
         security=requires("catalog:write"))
@large_body
@api_auth("catalog:write")
def api_upload(path: DatasetPath, raw: DataUpload) -> Response:
    """Upload a data version (text/csv or application/vnd.apache.parquet) and validate it.

    200 with the quality report when valid; 422 naming each failed expectation with example
    row numbers otherwise (the failed report is kept; the previous valid version stays current).
    An `Idempotency-Key` header (16 to 64 letters, digits, - or _) makes a repeated upload
    answer with the version the first one stored.
    """
    dataset_id = path.dataset_id
    if request.mimetype == "multipart/form-data":  # a client that sends the file as a form
        _require_owner(dataset_id)  # before the form is parsed into temp files
        upload = next(iter(request.files.values()), None)
        if upload is None:
            raise BadRequest("formularen har ingen fil; send data som forespørgslens indhold")
        version = _upload(dataset_id, upload.stream, _media_type(upload.filename or ""),
                          _upload_token(request.headers.get("Idempotency-Key")))
    else:
        version = _upload(dataset_id, request.stream, request.content_type or "",
                          _upload_token(request.headers.get("Idempotency-Key")))
    if not version.is_valid:
        raise Invalid("dataversion {number} bestod ikke valideringen; se fejlene og "
                      "GET /api/v1/datasets/{dataset_id}/quality",
                      errors=services.failed_expectations(version), number=version.number,
                      dataset_id=dataset_id)
    return jsonify(services.version_to_json(version))


@api.get("/api/v1/datasets/<int:dataset_id>/quality",
         responses=responses(200, DataVersionOut, 404, 422), security=PUBLIC)
def api_quality(path: DatasetPath, query: QualityQuery) -> Response:
    """Read the quality report of the latest data version (or ?version=N)."""
    version = services.quality_report(get_session(), dataset_id=path.dataset_id,
                                      actor=current_principal(), version_number=query.version)
    return jsonify(services.version_to_json(version))


@api.post("/api/v1/datasets/<int:dataset_id>/publish",
          responses=responses(200, DatasetOut, 401, 403, 404, 409, 422),
          security=requires("catalog:write"))
@api_auth("catalog:write")
def api_publish(path: DatasetPath) -> Response:
    """Publish a dataset; 409 until a data version has passed validation."""
    db = get_session()
    dataset = services.publish_dataset(db, actor=current_principal(),
                                       dataset_id=path.dataset_id)
    db.commit()
    return _dataset(dataset)


@api.post("/api/v1/datasets/<int:dataset_id>/retire",
          responses=responses(200, DatasetOut, 401, 403, 404, 409, 422),
          security=requires("catalog:write"))
@api_auth("catalog:write")
def api_retire(path: DatasetPath) -> Response:
    """Retire a published dataset from the catalog."""
    db = get_session()
    dataset = services.retire_dataset(db, actor=current_principal(),
                                      dataset_id=path.dataset_id)
    db.commit()
    return _dataset(dataset)


def _document(media_type: str, kind: str) -> ResponseDict:
    return {"200": {"description": "HealthDCAT-AP (DCAT-AP 3) of every published dataset",
                    "content": {media_type: {"schema": {"type": kind}}}}}


@api.get("/catalog.ttl", responses=_document("text/turtle", "string"), security=PUBLIC)
def export_turtle() -> Response:
    """HealthDCAT-AP (DCAT-AP 3) catalog of every published dataset, as Turtle."""
    body = services.export_catalog(get_session(), base_url=request.url_root, fmt="ttl")
    return Response(body, mimetype="text/turtle")


@api.get("/catalog.jsonld", responses=_document("application/ld+json", "object"),
         security=PUBLIC)
def export_jsonld() -> Response:
    """HealthDCAT-AP (DCAT-AP 3) catalog of every published dataset, as JSON-LD."""
    body = services.export_catalog(get_session(), base_url=request.url_root, fmt="jsonld")
    return Response(body, mimetype="application/ld+json")


# --- pages --------------------------------------------------------------------------------

def _labels() -> dict[str, Any]:
    """Vocabulary labels in the page's language."""
    return {name: {code: _(label) for code, label in table.items()}
            for name, table in (("theme", voc.THEMES), ("health_category", voc.HEALTH_CATEGORIES),
                                ("access_rights", voc.ACCESS_RIGHTS_LABELS),
                                ("publisher_level", voc.LEVEL_LABELS))}


def _search_args() -> dict[str, Any]:
    return {key: request.args.getlist(key) if key in _LIST_ARGS else value
            for key, value in request.args.items()}


_LIST_ARGS = ("publisher_level", "theme", "health_category", "access_rights")


@bp.get("/catalog")
def catalog_page() -> str:
    try:
        query = DatasetSearch.model_validate(_search_args()).to_search()
        result, problem = services.search_datasets(get_session(), query=query), None
    except ValidationError as error:
        problem = Invalid(_("Søgningen er ikke gyldig."), errors=field_errors(error))
        result = services.search_datasets(
            get_session(), query=DatasetSearch.model_validate({}).to_search())
    return render_template("catalog/search.html", result=result, problem=problem,
                           labels=_labels(), page_url=_page_url, search_url=_search_url)


def _search_url(query: SearchQuery, *, remove: tuple[str, str] | None = None,
                **changes: Any) -> str:
    """The catalog page for `query` with some fields changed (a filter removed, all filters
    cleared, a suggested search), back on its first page."""
    if remove is not None:
        facet, code = remove
        changes[facet] = tuple(c for c in getattr(query, facet) if c != code)
    query = dataclasses.replace(query, **changes)
    params: list[tuple[str, str]] = [("q", query.q)] if query.q else []
    for facet in search.FACETS:
        params += [(facet, code) for code in getattr(query, facet)]
    if query.publisher:
        params.append(("publisher", query.publisher))
    if query.sort != "relevance":
        params.append(("sort", query.sort))
    if query.per_page != SearchQuery.per_page:
        params.append(("per_page", str(query.per_page)))
    return url_for("catalog.catalog_page") + ("?" + urlencode(params) if params else "")


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
                                      version_number=_version_arg())
    report = version.report
    chart = bar_chart([(name, round(100 * share, 1))
                       for name, share in report.get("completeness", {}).items()],
                      title=_("Udfyldte værdier pr. kolonne (%)"), max_value=100, unit=" %")
    return render_template("catalog/quality.html", version=version, report=report,
                           chart=chart, dataset_id=dataset_id,
                           rule_labels={rule: _(text) for rule, text in _RULES.items()})


def _version_arg() -> int | None:
    try:
        return QualityQuery.model_validate(dict(request.args)).version
    except ValidationError:
        return None


_RULES = {
    "type": N_("Værdierne har den rigtige type"),
    "required": N_("Ingen værdier mangler"),
    "range": N_("Værdierne ligger inden for intervallet"),
    "allowed": N_("Værdierne er blandt de tilladte koder"),
    "pattern": N_("Værdierne følger kodesystemet eller mønsteret"),
    "cpr": N_("Værdierne er gyldige CPR-numre"),
    "unique": N_("Værdierne er unikke"),
}


@bp.get("/catalog/mine")
@login_required(kinds=("staff",))
def holder_page() -> str:
    datasets = services.list_holder_datasets(get_session(), actor=current_principal())
    return render_template("catalog/mine.html", datasets=datasets, labels=_labels())


def _form_page(dataset: Any, descriptor: dict, *, errors: list | None = None,
               status: int = 200, rows: int = 0, focus: str | None = None) -> tuple[str, int]:
    return render_template(
        "catalog/form.html", dataset=dataset, d=descriptor, errors=errors or [],
        beside=forms.errors_by_input(errors or []), input_for=forms.input_for,
        rows=forms.form_rows(descriptor.get("columns") or [], total=rows), voc=voc,
        labels=_labels(), options=_FORM_OPTIONS, max_rows=forms.MAX_ROWS, focus=focus), status


def _with_another_row(dataset: Any, descriptor: dict) -> tuple[str, int]:
    """The form again, unsaved, with one more column row (the add-a-column button without
    scripts)."""
    total = forms.rows_asked(request.form, more=1)
    rows = forms.form_rows(descriptor.get("columns") or [], total=total)
    return _form_page(dataset, descriptor, rows=total, focus=f"col-{len(rows) - 1}-name")


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
    if request.form.get("action") == "add_column":
        return _with_another_row(None, descriptor)
    db = get_session()
    try:
        dataset = services.create_dataset(db, actor=current_principal(),
                                          descriptor=Descriptor.model_validate(descriptor))
    except ValidationError as error:
        return _form_page(None, descriptor, errors=field_errors(error), status=422)
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
    if request.form.get("action") == "add_column":
        return _with_another_row(services.require_owned_dataset(
            db, dataset_id=dataset_id, actor=current_principal()), descriptor)
    try:
        dataset = services.update_dataset(
            db, actor=current_principal(), dataset_id=dataset_id,
            changes=DescriptorChanges.model_validate(descriptor))
    except (ValidationError, Conflict) as error:
        dataset = services.require_owned_dataset(db, dataset_id=dataset_id,
                                                 actor=current_principal())
        if isinstance(error, ValidationError):
            return _form_page(dataset, descriptor, errors=field_errors(error), status=422)
        errors = error.translated_errors() or [{"field": "", "message": error.translated_detail()}]
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
        return render_template("catalog/upload.html", d=dataset,
                               upload_token=secrets.token_urlsafe(24))
    _require_owner(dataset_id)  # before the form is parsed into temp files
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest(_("Vælg en CSV- eller Parquet-fil."))
    version = _upload(dataset_id, upload.stream, _media_type(upload.filename),
                      _upload_token(request.form.get("upload_token")))
    if version.is_valid:
        flash(_("Dataversion {n} er gyldig.", n=version.number), "success")
    else:
        flash(_("Dataversion {n} bestod ikke valideringen. Se rapporten.", n=version.number),
              "error")
    return redirect(url_for("catalog.quality_page", dataset_id=dataset_id,
                            version=version.number))


@bp.get("/catalog/<int:dataset_id>/template.csv")
@login_required(kinds=("staff",))
def template_csv(dataset_id: int) -> Response:
    """A CSV template of the dataset's column dictionary, for its holder to fill and upload."""
    dataset = services.require_owned_dataset(get_session(), dataset_id=dataset_id,
                                             actor=current_principal())
    if not dataset.columns:
        raise Conflict(_("Beskriv kolonnerne, før du henter en skabelon."))
    return Response(forms.column_template(dataset.columns), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="datasaet-{dataset.id}-skabelon.csv"'})


@bp.post("/catalog/<int:dataset_id>/publish")
@login_required(kinds=("staff",))
def publish_page(dataset_id: int) -> WerkzeugResponse:
    return _change_status(services.publish_dataset, dataset_id,
                          _("Datasættet er udgivet i kataloget."))


@bp.post("/catalog/<int:dataset_id>/retire")
@login_required(kinds=("staff",))
def retire_page(dataset_id: int) -> WerkzeugResponse:
    return _change_status(services.retire_dataset, dataset_id,
                          _("Datasættet er trukket tilbage fra kataloget."))


def _change_status(change: Any, dataset_id: int, message: str) -> WerkzeugResponse:
    db = get_session()
    try:
        change(db, actor=current_principal(), dataset_id=dataset_id)
    except Conflict as error:
        flash(error.translated_detail(), "error")
    else:
        db.commit()
        flash(message, "success")
    return redirect(url_for("catalog.dataset_page", dataset_id=dataset_id))

