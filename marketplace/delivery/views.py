"""HTTP glue of the delivery domain: extract API, signing key, and the company's extract pages."""
from __future__ import annotations

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
from flask_openapi3 import APIBlueprint, Tag
from werkzeug.wrappers import Response as WerkzeugResponse

from marketplace.db import get_session, utcnow
from marketplace.delivery import jobs, services
from marketplace.delivery.schemas import (
    DataQuery,
    ExtractIn,
    ExtractList,
    ExtractOut,
    ExtractPath,
    ExtractPermitPath,
    ExtractsQuery,
    ManifestOut,
    SigningKeyOut,
)
from marketplace.errors import Invalid
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.security import current_keyring
from marketplace.web.api import PUBLIC, requires, responses
from marketplace.web.i18n import gettext as _

api = APIBlueprint("delivery_api", __name__, abp_tags=[Tag(name="delivery")])
bp = Blueprint("delivery", __name__)

_DOWNLOAD = {"description": "The extract file (Parquet, or CSV when asked for)",
             "content": {media: {"schema": {"type": "string", "format": "binary"}}
                         for media in ("application/vnd.apache.parquet", "text/csv")}}


def _whole_number(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit() or len(value) > 9:
        raise Invalid.field(field, _("skal være et helt tal"))
    return int(value)


def _start(extract_id: int) -> None:
    if current_app.config.get("EXTRACTS_INLINE"):
        jobs.start_inline(current_app._get_current_object(), extract_id)  # type: ignore[attr-defined]


# --- API ---------------------------------------------------------------------------------------


@api.post("/api/v1/permits/<int:permit_id>/extracts",
          responses=responses(202, ExtractOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires("access:request"))
@api_auth("access:request")
def create_extract(path: ExtractPermitPath, body: ExtractIn) -> tuple[Response, int, dict]:
    """Request an extract of a dataset under a permit (202; built by a job)."""
    db = get_session()
    extract = services.request_extract(
        db, actor=current_principal(), permit_id=path.permit_id, dataset_id=body.dataset_id,
        now=utcnow())
    db.commit()
    _start(extract.id)
    location = url_for("delivery_api.extract_status", extract_id=extract.id)
    return jsonify(services.extract_to_json(extract)), 202, {"Location": location}


@api.get("/api/v1/extracts", responses=responses(200, ExtractList, 401, 403, 422),
         security=requires())
@api_auth()
def extracts_list(query: ExtractsQuery) -> Response:
    """List the extracts of the caller's organisation (`?permit_id=` keeps one permit's)."""
    found = services.list_extracts(get_session(), actor=current_principal(),
                                   permit_id=query.permit_id)
    return jsonify({"items": [services.extract_to_json(e) for e in found]})


@api.get("/api/v1/extracts/<int:extract_id>",
         responses=responses(200, ExtractOut, 401, 403, 404, 422), security=requires())
@api_auth()
def extract_status(path: ExtractPath) -> Response:
    """Show an extract's state, progress (0..1) and, when done, its signed manifest."""
    extract = services.require_visible_extract(get_session(), extract_id=path.extract_id,
                                               actor=current_principal())
    return jsonify(services.extract_to_json(extract))


@api.post("/api/v1/extracts/<int:extract_id>/retry",
          responses=responses(202, ExtractOut, 401, 403, 404, 409, 422),
          security=requires("access:request"))
@api_auth("access:request")
def extract_retry(path: ExtractPath) -> tuple[Response, int]:
    """Queue a failed extract again."""
    db = get_session()
    extract = services.retry_extract(db, actor=current_principal(), extract_id=path.extract_id,
                                     now=utcnow())
    db.commit()
    _start(extract.id)
    return jsonify(services.extract_to_json(extract)), 202


@api.get("/api/v1/extracts/<int:extract_id>/manifest",
         responses=responses(200, ManifestOut, 401, 403, 404, 409, 422), security=requires())
@api_auth()
def extract_manifest(path: ExtractPath) -> Response:
    """Return the extract's Ed25519-signed manifest."""
    return jsonify(services.extract_manifest(get_session(), actor=current_principal(),
                                             extract_id=path.extract_id))


@api.get("/api/v1/extracts/<int:extract_id>/data",
         responses={**responses(401, 403, 404, 409, 422), "200": _DOWNLOAD},
         security=requires())
@api_auth()
def extract_data(path: ExtractPath, query: DataQuery) -> Response:
    """Download the extract (format=parquet|csv) while the permit is valid."""
    db = get_session()
    download = services.download_extract(
        db, actor=current_principal(), extract_id=path.extract_id, fmt=query.format,
        keyring=current_keyring(), data_dir=current_app.config["DATA_DIR"], now=utcnow())
    db.commit()
    headers = {"Content-Disposition": f'attachment; filename="{download.filename}"',
               "Cache-Control": "no-store"}
    # The signed manifest holds the hash of each form: `sha256` (Parquet), `csv_sha256` (CSV).
    manifest = download.extract.manifest or {}
    digest = manifest.get("csv_sha256" if download.media_type.startswith("text/csv") else "sha256")
    if digest:
        headers["X-Content-SHA256"] = digest
    return Response(stream_with_context(download.body), mimetype=download.media_type,
                    headers=headers)


@api.get("/.well-known/marketplace-signing-key", responses=responses(200, SigningKeyOut),
         security=PUBLIC)
def signing_key() -> Response:
    """Return the public key that verifies extract manifests."""
    return jsonify(services.signing_key(current_keyring()))


# --- pages -------------------------------------------------------------------------------------


@bp.get("/extracts")
@login_required(kinds=("staff",))
def extracts_page() -> str:
    overviews = services.list_usable_permits(get_session(), actor=current_principal(),
                                             now=utcnow())
    return render_template("delivery/extracts.html", overviews=overviews)


@bp.post("/extracts")
@login_required(kinds=("staff",))
def extracts_order() -> WerkzeugResponse:
    db = get_session()
    extract = services.request_extract(
        db, actor=current_principal(),
        permit_id=_whole_number(request.form.get("permit_id"), "permit_id") or 0,
        dataset_id=_whole_number(request.form.get("dataset_id"), "dataset_id"), now=utcnow())
    db.commit()
    _start(extract.id)
    flash(_("Udtrækket er bestilt. Siden viser, hvor langt det er."), "success")
    return redirect(url_for("delivery.extract_page", extract_id=extract.id))


@bp.get("/extracts/<int:extract_id>")
@login_required(kinds=("staff",))
def extract_page(extract_id: int) -> str:
    db = get_session()
    extract = services.require_visible_extract(db, extract_id=extract_id,
                                               actor=current_principal())
    return render_template("delivery/extract.html", extract=extract,
                           record_level=services.is_record_level(db, extract=extract),
                           signing_key=services.signing_key(current_keyring()))
