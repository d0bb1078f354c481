"""HTTP glue of the testbeds domain: the JSON API here, the browser pages in pages.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from marketplace.db import get_session, utcnow
from marketplace.errors import BadRequest, Unauthorized
from marketplace.identity.auth import api_auth, current_principal
from marketplace.security import current_keyring
from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import kpis as kpi_rules
from marketplace.testbeds import serialise, services
from marketplace.web.i18n import current_language
from marketplace.web.requests import json_object

bp = Blueprint("testbeds", __name__)


def environment_json(environment: Any, *, slots: dict[int, int]) -> dict[str, Any]:
    datasets = services.environment_datasets(get_session(), environment=environment)
    return serialise.environment_to_json(environment, lang=current_language(),
                                         free_slots=slots.get(environment.id, 0),
                                         datasets=datasets)


@bp.get("/api/v1/test-environments")
def api_list_environments() -> Response:
    """List the region's test environments with hosts, capacity, free slots and datasets.

    `?theme=` keeps those working with one theme.
    """
    db = get_session()
    slots = services.free_slots(db, now=utcnow())
    environments = services.list_test_environments(db, theme=request.args.get("theme") or None)
    return jsonify({"items": [environment_json(env, slots=slots) for env in environments]})


@bp.get("/api/v1/test-environments/<int:environment_id>")
def api_get_environment(environment_id: int) -> Response:
    """Show one test environment."""
    db = get_session()
    environment = services.require_test_environment(db, environment_id=environment_id)
    return jsonify(environment_json(environment, slots=services.free_slots(db, now=utcnow())))


@bp.post("/api/v1/test-environments")
@api_auth()
def api_create_environment() -> tuple[Response, int]:
    """Add a test environment with its host organisations (platform operator)."""
    body = json_object()
    hosts = body.pop("hosts", None)
    if not isinstance(hosts, list) or not all(isinstance(h, dict) for h in hosts):
        raise BadRequest("hosts must be a list of {\"org\": slug, \"sector\": ...}")
    db = get_session()
    environment = services.create_test_environment(
        db, actor=current_principal(), slug=str(body.pop("slug", "")),
        hosts=[(str(h.get("org")), str(h.get("sector"))) for h in hosts], fields=body,
    )
    db.commit()
    return jsonify(environment_json(environment, slots=services.free_slots(db, now=utcnow()))), 201


@bp.patch("/api/v1/test-environments/<int:environment_id>")
@api_auth()
def api_update_environment(environment_id: int) -> Response:
    """Change a test environment's entry (its hosts only)."""
    db = get_session()
    environment = services.update_test_environment(
        db, actor=current_principal(), environment_id=environment_id, changes=json_object()
    )
    db.commit()
    return jsonify(environment_json(environment, slots=services.free_slots(db, now=utcnow())))


@bp.post("/api/v1/matches")
def api_match() -> Response:
    """Rank the test environments for a solution profile, best first, with reasons.

    Body: {"themes", "target_groups", "needs", "facilities", "trl", "description"} or
    {"solution_profile_id"} for a saved profile of the signed-in company. No sign-in is needed
    for an unsaved profile.
    """
    body = json_object()
    db = get_session()
    if "solution_profile_id" in body:
        actor = current_principal()
        if not actor.is_authenticated:
            raise Unauthorized("sign in to match a saved solution profile")
        profile_id = body["solution_profile_id"]
        if not isinstance(profile_id, int):
            raise BadRequest("solution_profile_id must be a number")
        solution = services.require_solution_profile(db, actor=actor, profile_id=profile_id)
        profile = services.profile_of(solution)
    else:
        profile = services.profile_from_json(body)
    result = services.match_environments(db, profile=profile, now=utcnow())
    return jsonify(serialise.match_result_to_json(result, lang=current_language()))


@bp.get("/api/v1/solution-profiles")
@api_auth()
def api_list_solutions() -> Response:
    """List the company's saved solution profiles."""
    solutions = services.list_solution_profiles(get_session(), actor=current_principal())
    return jsonify({"items": [serialise.solution_to_json(s) for s in solutions]})


@bp.post("/api/v1/solution-profiles")
@api_auth()
def api_create_solution() -> tuple[Response, int]:
    """Save a solution profile for the company."""
    body = json_object()
    db = get_session()
    solution = services.create_solution_profile(
        db, actor=current_principal(), name=body.get("name") or "",
        profile=services.profile_from_json({k: v for k, v in body.items() if k != "name"}),
    )
    db.commit()
    return jsonify(serialise.solution_to_json(solution)), 201


@bp.get("/api/v1/solution-profiles/<int:profile_id>")
@api_auth()
def api_get_solution(profile_id: int) -> Response:
    """Show one of the company's solution profiles."""
    solution = services.require_solution_profile(get_session(), actor=current_principal(),
                                                 profile_id=profile_id)
    return jsonify(serialise.solution_to_json(solution))


@bp.patch("/api/v1/solution-profiles/<int:profile_id>")
@api_auth()
def api_update_solution(profile_id: int) -> Response:
    """Change one of the company's solution profiles."""
    db = get_session()
    solution = services.update_solution_profile(db, actor=current_principal(),
                                                profile_id=profile_id, data=json_object())
    db.commit()
    return jsonify(serialise.solution_to_json(solution))


@bp.get("/api/v1/test-courses")
@api_auth()
def api_list_courses() -> Response:
    """List the test courses the caller may see (own company's, own environments')."""
    courses = services.list_test_courses(get_session(), actor=current_principal(),
                                         status=request.args.get("status") or None)
    lang = current_language()
    return jsonify({"items": [serialise.course_to_json(c, lang=lang) for c in courses]})


@bp.post("/api/v1/test-courses")
@api_auth()
def api_propose_course() -> tuple[Response, int]:
    """Propose a test course of a saved solution in a test environment (company).

    Body: {"test_environment_id", "solution_profile_id", "title", "goal", "planned_start",
    "planned_end", "participants_planned"}.
    """
    body = json_object()
    environment_id, solution_id = body.get("test_environment_id"), body.get("solution_profile_id")
    if not isinstance(environment_id, int) or not isinstance(solution_id, int):
        raise BadRequest("test_environment_id and solution_profile_id must be numbers")
    db = get_session()
    course = services.propose_test_course(
        db, actor=current_principal(), environment_id=environment_id,
        solution_profile_id=solution_id,
        plan={k: v for k, v in body.items()
              if k not in ("test_environment_id", "solution_profile_id")},
        now=utcnow(),
    )
    db.commit()
    return jsonify(serialise.course_to_json(course, lang=current_language())), 201


@bp.get("/api/v1/test-courses/<int:course_id>")
@api_auth()
def api_get_course(course_id: int) -> Response:
    """Show a test course with outcomes, evidence and history."""
    course = services.require_test_course(get_session(), actor=current_principal(),
                                          course_id=course_id)
    return jsonify(serialise.course_to_json(course, lang=current_language()))


@bp.patch("/api/v1/test-courses/<int:course_id>")
@api_auth()
def api_change_course(course_id: int) -> Response:
    """Move a test course on ({"status", "comment"}) or edit its plan or procurement fields.

    proposed → agreed | declined (host) → running → completed → evaluated.
    """
    db = get_session()
    course = services.change_test_course(db, actor=current_principal(), course_id=course_id,
                                         changes=json_object(), now=utcnow())
    db.commit()
    return jsonify(serialise.course_to_json(course, lang=current_language()))


@bp.post("/api/v1/test-courses/<int:course_id>/outcomes")
@api_auth()
def api_record_outcome(course_id: int) -> tuple[Response, int]:
    """Record an outcome on one of the four effect dimensions (company or host).

    Body: {"dimension", "metric", "unit", "baseline", "result", "better", "note"}.
    """
    db = get_session()
    outcome = services.record_outcome(db, actor=current_principal(), course_id=course_id,
                                      data=json_object())
    db.commit()
    return jsonify(serialise.outcome_to_json(outcome)), 201


def _upload() -> tuple[str, bytes]:
    """The uploaded file: multipart field "file", or the raw body with ?filename=."""
    # Evidence may be larger than ordinary requests; the service enforces the exact limit.
    request.max_content_length = services.EVIDENCE_MAX_BYTES + 64 * 1024
    upload = request.files.get("file")
    if upload is not None:
        return upload.filename or "evidence", upload.read(services.EVIDENCE_MAX_BYTES + 1)
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise BadRequest("attach the evidence as the form field 'file'")
    return request.args.get("filename") or "evidence", request.get_data(cache=False)


@bp.post("/api/v1/test-courses/<int:course_id>/evidence")
@api_auth()
def api_add_evidence(course_id: int) -> tuple[Response, int]:
    """Attach an evidence file (PDF, PNG, JPEG, CSV or text; at most 10 MB), stored encrypted."""
    filename, data = _upload()
    db = get_session()
    evidence = services.add_evidence(
        db, actor=current_principal(), course_id=course_id, filename=filename, data=data,
        dimension=request.args.get("dimension") or request.form.get("dimension") or None,
        keyring=current_keyring(), data_dir=current_app.config["DATA_DIR"],
    )
    db.commit()
    return jsonify(serialise.evidence_to_json(evidence)), 201


def evidence_response(evidence_id: int) -> Response:
    evidence, data = services.read_evidence(
        get_session(), actor=current_principal(), evidence_id=evidence_id,
        keyring=current_keyring(), data_dir=current_app.config["DATA_DIR"],
    )
    response = Response(data, mimetype=evidence.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{evidence.filename}"'
    return response


@bp.get("/api/v1/evidence/<int:evidence_id>")
@api_auth()
def api_get_evidence(evidence_id: int) -> Response:
    """Download an evidence file (decrypted)."""
    return evidence_response(evidence_id)


@bp.get("/api/v1/test-courses/<int:course_id>/dossier")
@api_auth()
def api_dossier(course_id: int) -> Response:
    """The procurement dossier of a completed test course."""
    dossier = services.build_dossier(get_session(), actor=current_principal(),
                                     course_id=course_id, now=utcnow())
    return jsonify(serialise.dossier_to_json(dossier, lang=current_language()))


def dossier_pdf_response(course_id: int) -> Response:
    dossier = services.build_dossier(get_session(), actor=current_principal(),
                                     course_id=course_id, now=utcnow())
    pdf = dossiers.render_pdf(dossier, lang=current_language(), vocabulary=services.VOCABULARY)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="indkoebsdossier-testforloeb-{course_id}.pdf"'
    )
    return response


@bp.get("/api/v1/test-courses/<int:course_id>/dossier.pdf")
@api_auth()
def api_dossier_pdf(course_id: int) -> Response:
    """The procurement dossier as a PDF."""
    return dossier_pdf_response(course_id)


@bp.post("/api/v1/test-courses/<int:course_id>/procurement")
@api_auth()
def api_start_procurement(course_id: int) -> tuple[Response, int]:
    """Start an innovative procurement based on a completed test course (public buyer)."""
    body = json_object(allow_empty=True)
    db = get_session()
    procurement = services.start_procurement(db, actor=current_principal(), course_id=course_id,
                                             note=str(body.get("note") or ""), now=utcnow())
    db.commit()
    return jsonify(serialise.procurement_to_json(procurement)), 201


@bp.get("/api/v1/kpis")
def api_kpis() -> Response:
    """Progress against Copenhagen Healthtech Cluster's targets."""
    report = services.compute_kpis(get_session(), now=utcnow())
    return jsonify(kpi_rules.report_to_json(report))


from marketplace.testbeds import pages  # noqa: E402, F401  (registers the browser pages on bp)
