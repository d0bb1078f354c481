"""HTTP glue of the testbeds domain: the JSON API here, the browser pages in pages.py."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from marketplace.db import get_session, utcnow
from marketplace.errors import BadRequest, Unauthorized
from marketplace.identity.auth import api_auth, current_principal
from marketplace.security import current_keyring
from marketplace.testbeds import serialise, services
from marketplace.testbeds.commands import (
    CourseChanges,
    CourseProposal,
    EnvironmentChanges,
    MatchRequest,
    NewEnvironment,
    OutcomeReport,
    SolutionDescription,
)
from marketplace.testbeds.pages import bp
from marketplace.testbeds.responses import (
    build_dossier,
    dossier_pdf_response,
    environment_json,
    evidence_response,
)
from marketplace.testbeds.schemas import (
    CourseList,
    CourseOut,
    CoursePath,
    CoursesQuery,
    DossierOut,
    EnvironmentList,
    EnvironmentOut,
    EnvironmentPath,
    EnvironmentsQuery,
    EvidenceOut,
    EvidencePath,
    EvidenceQuery,
    MatchesOut,
    OutcomeOut,
    ProcurementIn,
    ProcurementOut,
    ProfilePath,
    SolutionList,
    SolutionOut,
)
from marketplace.web import documents
from marketplace.web.api import PUBLIC, requires, responses
from marketplace.web.i18n import current_language

__all__ = ["api", "bp"]

api = APIBlueprint("testbeds_api", __name__, abp_tags=[Tag(name="test environments")])

_PDF = {"description": "The dossier as a PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
_FILE = {"description": "The evidence file, decrypted",
         "content": {media: {"schema": {"type": "string", "format": "binary"}}
                     for media in services.EVIDENCE_TYPES}}
_UPLOAD = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "dimension": {"type": "string"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@api.get("/api/v1/test-environments", responses=responses(200, EnvironmentList, 422),
         security=PUBLIC)
def api_list_environments(query: EnvironmentsQuery) -> Response:
    """List the region's test environments with hosts, capacity, free slots and datasets.

    `?theme=` keeps those working with one theme.
    """
    db = get_session()
    slots = services.free_slots(db, now=utcnow())
    environments = services.list_test_environments(db, theme=query.theme)
    return jsonify({"items": [environment_json(env, slots=slots) for env in environments]})


@api.get("/api/v1/test-environments/<int:environment_id>",
         responses=responses(200, EnvironmentOut, 404, 422), security=PUBLIC)
def api_get_environment(path: EnvironmentPath) -> Response:
    """Show one test environment."""
    db = get_session()
    environment = services.require_test_environment(db, environment_id=path.environment_id)
    return jsonify(environment_json(environment, slots=services.free_slots(db, now=utcnow())))


@api.post("/api/v1/test-environments",
          responses=responses(201, EnvironmentOut, 400, 401, 403, 409, 413, 422),
          security=requires())
@api_auth()
def api_create_environment(body: NewEnvironment) -> tuple[Response, int]:
    """Add a test environment with its host organisations (platform operator)."""
    db = get_session()
    environment = services.create_test_environment(db, actor=current_principal(),
                                                   environment=body)
    db.commit()
    return jsonify(environment_json(environment, slots=services.free_slots(db, now=utcnow()))), 201


@api.patch("/api/v1/test-environments/<int:environment_id>",
           responses=responses(200, EnvironmentOut, 400, 401, 403, 404, 413, 422),
           security=requires())
@api_auth()
def api_update_environment(path: EnvironmentPath, body: EnvironmentChanges) -> Response:
    """Change a test environment's entry (its hosts only)."""
    db = get_session()
    environment = services.update_test_environment(
        db, actor=current_principal(), environment_id=path.environment_id,
        changes=body)
    db.commit()
    return jsonify(environment_json(environment, slots=services.free_slots(db, now=utcnow())))


@api.post("/api/v1/matches",
          responses=responses(200, MatchesOut, 400, 401, 403, 404, 413, 422), security=PUBLIC)
def api_match(body: MatchRequest) -> Response:
    """Rank the test environments for a solution profile, best first, with reasons.

    Body: {"themes", "target_groups", "needs", "facilities", "trl", "description"} or
    {"solution_profile_id"} for a saved profile of the signed-in company. No sign-in is needed
    for an unsaved profile.
    """
    db = get_session()
    if body.solution_profile_id is not None:
        actor = current_principal()
        if not actor.is_authenticated:
            raise Unauthorized("log ind for at matche en gemt løsningsprofil")
        solution = services.require_solution_profile(db, actor=actor,
                                                     profile_id=body.solution_profile_id)
        profile = services.profile_of(solution)
    else:
        profile = body.profile()
    result = services.match_environments(db, profile=profile, now=utcnow())
    return jsonify(serialise.match_result_to_json(result, lang=current_language()))


@api.get("/api/v1/solution-profiles", responses=responses(200, SolutionList, 401, 403),
         security=requires())
@api_auth()
def api_list_solutions() -> Response:
    """List the company's saved solution profiles."""
    solutions = services.list_solution_profiles(get_session(), actor=current_principal())
    return jsonify({"items": [serialise.solution_to_json(s) for s in solutions]})


@api.post("/api/v1/solution-profiles",
          responses=responses(201, SolutionOut, 400, 401, 403, 413, 422),
          security=requires())
@api_auth()
def api_create_solution(body: SolutionDescription) -> tuple[Response, int]:
    """Save a solution profile for the company."""
    db = get_session()
    solution = services.create_solution_profile(db, actor=current_principal(),
                                                description=body)
    db.commit()
    return jsonify(serialise.solution_to_json(solution)), 201


@api.get("/api/v1/solution-profiles/<int:profile_id>",
         responses=responses(200, SolutionOut, 401, 403, 404, 422), security=requires())
@api_auth()
def api_get_solution(path: ProfilePath) -> Response:
    """Show one of the company's solution profiles."""
    solution = services.require_solution_profile(get_session(), actor=current_principal(),
                                                 profile_id=path.profile_id)
    return jsonify(serialise.solution_to_json(solution))


@api.patch("/api/v1/solution-profiles/<int:profile_id>",
           responses=responses(200, SolutionOut, 400, 401, 403, 404, 413, 422),
           security=requires())
@api_auth()
def api_update_solution(path: ProfilePath, body: SolutionDescription) -> Response:
    """Change one of the company's solution profiles."""
    db = get_session()
    solution = services.update_solution_profile(
        db, actor=current_principal(), profile_id=path.profile_id,
        changes=body)
    db.commit()
    return jsonify(serialise.solution_to_json(solution))


@api.get("/api/v1/test-courses", responses=responses(200, CourseList, 401, 422),
         security=requires())
@api_auth()
def api_list_courses(query: CoursesQuery) -> Response:
    """List the test courses the caller may see (own company's, own environments')."""
    courses = services.list_test_courses(get_session(), actor=current_principal(),
                                         status=query.status)
    lang = current_language()
    return jsonify({"items": [serialise.course_to_json(c, lang=lang) for c in courses]})


@api.post("/api/v1/test-courses",
          responses=responses(201, CourseOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires())
@api_auth()
def api_propose_course(body: CourseProposal) -> tuple[Response, int]:
    """Propose a test course of a saved solution in a test environment (company)."""
    db = get_session()
    course = services.propose_test_course(db, actor=current_principal(), proposal=body,
                                          now=utcnow())
    db.commit()
    return jsonify(serialise.course_to_json(course, lang=current_language())), 201


@api.get("/api/v1/test-courses/<int:course_id>",
         responses=responses(200, CourseOut, 401, 403, 404, 422), security=requires())
@api_auth()
def api_get_course(path: CoursePath) -> Response:
    """Show a test course with outcomes, evidence and history."""
    course = services.require_test_course(get_session(), actor=current_principal(),
                                          course_id=path.course_id)
    return jsonify(serialise.course_to_json(course, lang=current_language()))


@api.patch("/api/v1/test-courses/<int:course_id>",
           responses=responses(200, CourseOut, 400, 401, 403, 404, 409, 413, 422),
           security=requires())
@api_auth()
def api_change_course(path: CoursePath, body: CourseChanges) -> Response:
    """Move a test course on ({"status", "comment"}) or edit its plan or procurement fields.

    proposed → agreed | declined (host) | withdrawn (company) → running → completed →
    evaluated (host).
    """
    db = get_session()
    course = services.change_test_course(db, actor=current_principal(), course_id=path.course_id,
                                         changes=body, now=utcnow())
    db.commit()
    return jsonify(serialise.course_to_json(course, lang=current_language()))


@api.post("/api/v1/test-courses/<int:course_id>/outcomes",
          responses=responses(201, OutcomeOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires())
@api_auth()
def api_record_outcome(path: CoursePath, body: OutcomeReport) -> tuple[Response, int]:
    """Record an outcome on one of the four effect dimensions (company or host), or correct the
    side's own one: audited, and once the course is evaluated only with a `reason`."""
    db = get_session()
    outcome = services.record_outcome(db, actor=current_principal(), course_id=path.course_id,
                                      report=body)
    db.commit()
    return jsonify(serialise.outcome_to_json(outcome)), 201


def _upload(filename: str | None) -> tuple[str, bytes]:
    """The uploaded file: multipart field "file", or the raw body with ?filename=."""
    # Evidence may be larger than ordinary requests; the service enforces the exact limit.
    request.max_content_length = services.EVIDENCE_MAX_BYTES + 64 * 1024
    upload = request.files.get("file")
    if upload is not None:
        return upload.filename or "evidence", upload.read(services.EVIDENCE_MAX_BYTES + 1)
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise BadRequest("vedhæft evidensen i formularfeltet 'file'")
    return filename or "evidence", request.get_data(cache=False)


@api.post("/api/v1/test-courses/<int:course_id>/evidence",
          responses=responses(201, EvidenceOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires(), openapi_extensions=_UPLOAD)
@api_auth()
def api_add_evidence(path: CoursePath, query: EvidenceQuery) -> tuple[Response, int]:
    """Attach an evidence file (PDF, PNG, JPEG, CSV or text; at most 10 MB), stored encrypted."""
    filename, data = _upload(query.filename)
    db = get_session()
    evidence = services.add_evidence(
        db, actor=current_principal(), course_id=path.course_id, filename=filename, data=data,
        dimension=query.dimension or request.form.get("dimension") or None,
        keyring=current_keyring(), data_dir=current_app.config["DATA_DIR"],
    )
    db.commit()
    return jsonify(serialise.evidence_to_json(evidence)), 201


@api.get("/api/v1/evidence/<int:evidence_id>",
         responses={**responses(401, 403, 404, 422), "200": _FILE}, security=requires())
@api_auth()
def api_get_evidence(path: EvidencePath) -> Response:
    """Download an evidence file (decrypted)."""
    return evidence_response(path.evidence_id)


@api.get("/api/v1/test-courses/<int:course_id>/dossier",
         responses=responses(200, DossierOut, 401, 403, 404, 409, 422), security=requires())
@api_auth()
def api_dossier(path: CoursePath) -> Response:
    """The procurement dossier of a completed test course."""
    dossier = build_dossier(path.course_id)
    return jsonify({**serialise.dossier_to_json(dossier, lang=current_language()),
                    "sha256": documents.content_sha256(serialise.dossier_content(dossier))})


@api.get("/api/v1/test-courses/<int:course_id>/dossier.pdf",
         responses={**responses(401, 403, 404, 409, 422), "200": _PDF}, security=requires())
@api_auth()
def api_dossier_pdf(path: CoursePath) -> Response:
    """The procurement dossier as a PDF."""
    return dossier_pdf_response(path.course_id)


@api.post("/api/v1/test-courses/<int:course_id>/procurement",
          responses=responses(201, ProcurementOut, 400, 401, 403, 404, 409, 413, 422),
          security=requires())
@api_auth()
def api_start_procurement(path: CoursePath, body: ProcurementIn) -> tuple[Response, int]:
    """Start an innovative procurement based on a completed test course (public buyer)."""
    db = get_session()
    procurement = services.start_procurement(db, actor=current_principal(),
                                             course_id=path.course_id, note=body.note,
                                             now=utcnow())
    db.commit()
    return jsonify(serialise.procurement_to_json(procurement)), 201
