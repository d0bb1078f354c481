"""HTTP glue of the delivery domain: extract API, signing key, and the company's extract pages."""
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

from marketplace.db import get_session, utcnow
from marketplace.delivery import jobs, services
from marketplace.errors import Invalid
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.security import current_keyring
from marketplace.web.i18n import gettext as _
from marketplace.web.requests import json_object

bp = Blueprint("delivery", __name__)


def _optional_int(value: object, field: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise Invalid.field(field, "must be a whole number")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Invalid.field(field, "must be a whole number") from None


def _start(extract_id: int) -> None:
    if current_app.config.get("EXTRACTS_INLINE"):
        jobs.start_inline(current_app._get_current_object(), extract_id)  # type: ignore[attr-defined]


# --- API ---------------------------------------------------------------------------------------


@bp.post("/api/v1/permits/<int:permit_id>/extracts")
@api_auth("access:request")
def create_extract(permit_id: int) -> tuple[Response, int, dict]:
    """Request an extract of a dataset under a permit (202; built by a job)."""
    body = json_object(allow_empty=True)
    db = get_session()
    extract = services.request_extract(
        db, actor=current_principal(), permit_id=permit_id,
        dataset_id=_optional_int(body.get("dataset_id"), "dataset_id"), now=utcnow())
    db.commit()
    _start(extract.id)
    location = url_for("delivery.extract_status", extract_id=extract.id)
    return jsonify(services.extract_to_json(extract)), 202, {"Location": location}


@bp.get("/api/v1/extracts")
@api_auth()
def extracts_list() -> Response:
    """List the extracts of the caller's organisation."""
    permit_id = _optional_int(request.args.get("permit_id"), "permit_id")
    found = services.list_extracts(get_session(), actor=current_principal(), permit_id=permit_id)
    return jsonify({"items": [services.extract_to_json(e) for e in found]})


@bp.get("/api/v1/extracts/<int:extract_id>")
@api_auth()
def extract_status(extract_id: int) -> Response:
    """Show an extract's state, progress (0..1) and, when done, its signed manifest."""
    extract = services.require_visible_extract(get_session(), extract_id=extract_id,
                                               actor=current_principal())
    return jsonify(services.extract_to_json(extract))


@bp.post("/api/v1/extracts/<int:extract_id>/retry")
@api_auth("access:request")
def extract_retry(extract_id: int) -> tuple[Response, int]:
    """Queue a failed extract again."""
    db = get_session()
    extract = services.retry_extract(db, actor=current_principal(), extract_id=extract_id,
                                     now=utcnow())
    db.commit()
    _start(extract.id)
    return jsonify(services.extract_to_json(extract)), 202


@bp.get("/api/v1/extracts/<int:extract_id>/manifest")
@api_auth()
def extract_manifest(extract_id: int) -> Response:
    """Return the extract's Ed25519-signed manifest."""
    return jsonify(services.extract_manifest(get_session(), actor=current_principal(),
                                             extract_id=extract_id))


@bp.get("/api/v1/extracts/<int:extract_id>/data")
@api_auth()
def extract_data(extract_id: int) -> Response:
    """Download the extract (format=parquet|csv) while the permit is valid."""
    db = get_session()
    download = services.download_extract(
        db, actor=current_principal(), extract_id=extract_id,
        fmt=request.args.get("format", "parquet"), keyring=current_keyring(),
        data_dir=current_app.config["DATA_DIR"], now=utcnow())
    db.commit()
    headers = {"Content-Disposition": f'attachment; filename="{download.filename}"',
               "Cache-Control": "no-store"}
    if download.media_type == "application/vnd.apache.parquet":
        # The manifest's hash is of the Parquet bytes; a CSV body would never match it.
        headers["X-Content-SHA256"] = download.extract.manifest["sha256"]
    return Response(stream_with_context(download.body), mimetype=download.media_type,
                    headers=headers)


@bp.get("/.well-known/marketplace-signing-key")
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
def extracts_order() -> Response:
    db = get_session()
    extract = services.request_extract(
        db, actor=current_principal(),
        permit_id=_optional_int(request.form.get("permit_id"), "permit_id") or 0,
        dataset_id=_optional_int(request.form.get("dataset_id"), "dataset_id"), now=utcnow())
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
