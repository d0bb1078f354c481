"""HTTP glue of the secure processing environment: the workspace API and pages.

Output review and release (`/api/v1/output-reviews`, `/api/v1/outputs/...`, `/output-reviews`)
live in `release_views.py` with their own blueprint.
"""
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
    url_for,
)
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from marketplace.db import get_session, utcnow
from marketplace.errors import Invalid, TooLarge
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.web.api import field_errors, requires, responses
from marketplace.web.i18n import gettext as _
from marketplace.workspace import environment, jobs, services
from marketplace.workspace.schemas import (
    MAX_SCRIPT_CHARS,
    DummyPath,
    DummyQuery,
    JobIn,
    JobOut,
    JobPath,
    JobQueued,
    WorkspaceOut,
    WorkspacePermitPath,
)

api = APIBlueprint("workspace_api", __name__, abp_tags=[Tag(name="workspace")])
bp = Blueprint("workspace", __name__)


def _start(job_id: int) -> None:
    inline = current_app.config.get("WORKSPACE_INLINE",
                                    current_app.config.get("EXTRACTS_INLINE"))
    if inline:
        jobs.start_inline(current_app._get_current_object(), job_id)  # type: ignore[attr-defined]


def _open(permit_id: int) -> services.Workspace:
    config = current_app.config
    return services.open_workspace(
        get_session(), permit_id=permit_id, actor=current_principal(), now=utcnow(),
        environment=environment.describe(environment.environment_root(config)),
        limits=environment.limits_from(config))


# --- API ---------------------------------------------------------------------------------------


@api.get("/api/v1/permits/<int:permit_id>/workspace",
         responses=responses(200, WorkspaceOut, 401, 403, 404, 409, 422),
         security=requires())
@api_auth()
def api_workspace(path: WorkspacePermitPath) -> Response:
    """The permit's workspace: datasets, analysis environment, limits and jobs."""
    return jsonify(services.workspace_to_json(_open(path.permit_id)))


@api.get("/api/v1/permits/<int:permit_id>/workspace/dummy/<int:dataset_id>",
         responses=responses(200, None, 401, 403, 404, 409, 422), security=requires())
@api_auth()
def api_dummy(path: DummyPath, query: DummyQuery) -> Response:
    """Synthetic rows with the permit's columns of one dataset (never from real rows)."""
    found = services.dummy_data(get_session(), permit_id=path.permit_id,
                                dataset_id=path.dataset_id, actor=current_principal(),
                                fmt=query.format, now=utcnow())
    return Response(found.body, mimetype=found.media_type, headers={
        "X-Synthetic": "true",
        "Content-Disposition": f'attachment; filename="{found.filename}"'})


@api.post("/api/v1/permits/<int:permit_id>/jobs",
          responses=responses(202, JobQueued, 401, 403, 404, 409, 422),
          security=requires("workspace:run"))
@api_auth("workspace:run")
def api_submit_job(path: WorkspacePermitPath, body: JobIn) -> tuple[Response, int, dict]:
    """Run a Python script against the permit's data in the sandbox (202; a job runs it)."""
    db = get_session()
    job = services.submit_job(db, actor=current_principal(), permit_id=path.permit_id,
                              name=body.name, script=body.script, now=utcnow())
    db.commit()
    _start(job.id)
    location = url_for("workspace_api.api_job", job_id=job.id)
    return jsonify({"id": job.id, "status": job.status}), 202, {"Location": location}


@api.get("/api/v1/jobs/<int:job_id>", responses=responses(200, JobOut, 401, 403, 404, 422),
         security=requires())
@api_auth()
def api_job(path: JobPath) -> Response:
    """A job's state, scrubbed log and outputs with their automatic checks."""
    job = services.require_visible_job(get_session(), job_id=path.job_id,
                                       actor=current_principal())
    return jsonify(services.job_to_json(job))


@api.post("/api/v1/jobs/<int:job_id>/cancel",
          responses=responses(200, JobOut, 401, 403, 404, 409, 422),
          security=requires("workspace:run"))
@api_auth("workspace:run")
def api_cancel_job(path: JobPath) -> Response:
    """Cancel a queued or running job."""
    db = get_session()
    job = services.cancel_job(db, actor=current_principal(), job_id=path.job_id, now=utcnow())
    db.commit()
    return jsonify(services.job_to_json(job))


@api.post("/api/v1/jobs/<int:job_id>/retry",
          responses=responses(202, JobOut, 401, 403, 404, 409, 422),
          security=requires("workspace:run"))
@api_auth("workspace:run")
def api_retry_job(path: JobPath) -> tuple[Response, int]:
    """Queue a failed job again."""
    db = get_session()
    job = services.retry_job(db, actor=current_principal(), job_id=path.job_id, now=utcnow())
    db.commit()
    _start(job.id)
    return jsonify(services.job_to_json(job)), 202


# --- pages -------------------------------------------------------------------------------------


@bp.get("/workspace")
@login_required(kinds=("staff",))
def workspaces_page() -> str:
    permits = services.list_workspaces(get_session(), actor=current_principal(), now=utcnow())
    return render_template("workspace/index.html", permits=permits)


@bp.get("/workspace/<int:permit_id>")
@login_required(kinds=("staff",))
def workspace_page(permit_id: int) -> str:
    workspace = _open(permit_id)
    principal = current_principal()
    return render_template("workspace/workspace.html", workspace=workspace,
                           can_run=principal.belongs_to(workspace.permit.company_org_id),
                           requirements=environment.published_requirements())


def _script_from_form() -> str:
    upload = request.files.get("script_file")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_SCRIPT_CHARS * 4 + 1)
        if len(raw) > MAX_SCRIPT_CHARS * 4:
            raise TooLarge(_("Scriptet er for stort"))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid.field("script_file", _("Scriptet skal være UTF-8-tekst")) from None
    return request.form.get("script", "")


@bp.post("/workspace/<int:permit_id>/jobs")
@login_required(kinds=("staff",))
def workspace_submit(permit_id: int) -> WerkzeugResponse:
    try:
        body = JobIn(name=request.form.get("name", ""), script=_script_from_form())
    except ValidationError as error:
        problems = field_errors(error)
        raise Invalid(_("Tjek felterne: {fields}",
                        fields=", ".join(p["field"] for p in problems)),
                      errors=problems) from None
    db = get_session()
    job = services.submit_job(db, actor=current_principal(), permit_id=permit_id,
                              name=body.name, script=body.script, now=utcnow())
    db.commit()
    _start(job.id)
    flash(_("Jobbet er sendt. Det kører i det sikre miljø; siden viser resultatet, når det er "
            "færdigt."), "success")
    return redirect(url_for("workspace.workspace_page", permit_id=permit_id) + f"#job-{job.id}")


@bp.post("/workspace/jobs/<int:job_id>/cancel")
@login_required(kinds=("staff",))
def workspace_cancel(job_id: int) -> WerkzeugResponse:
    db = get_session()
    job = services.cancel_job(db, actor=current_principal(), job_id=job_id, now=utcnow())
    db.commit()
    flash(_("Jobbet er annulleret."), "success")
    return redirect(url_for("workspace.workspace_page", permit_id=job.permit_id))
