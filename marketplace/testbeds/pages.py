"""Browser pages of the testbeds domain (server-rendered, Danish by default, ?lang=en)."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from marketplace.db import get_session, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.identity.auth import current_principal, login_required
from marketplace.security import current_keyring
from marketplace.testbeds import lifecycle, services
from marketplace.testbeds.commands import (
    CourseChanges,
    CourseProposal,
    EnvironmentChanges,
    OutcomeReport,
    SolutionDescription,
)
from marketplace.testbeds.responses import (
    build_dossier,
    dossier_document,
    dossier_pdf_response,
    evidence_response,
)
from marketplace.web.api import field_errors
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

bp = Blueprint("testbeds", __name__)

STAFF = ("staff",)
LIST_FIELDS = ("themes", "target_groups", "needs", "facilities", "resources")


def _form_data(form: MultiDict, fields: tuple[str, ...]) -> dict[str, Any]:
    """Turn a posted form into the JSON-like dict the services read."""
    data: dict[str, Any] = {}
    for name in fields:
        if name in LIST_FIELDS:
            data[name] = form.getlist(name)
        elif name in form:
            data[name] = form.get(name, "")
    return data


def _whole_numbers(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Read whole-number form fields; text that is not a number is left for the service to
    reject with a field error."""
    for name in names:
        value = (data.get(name) or "").strip() if isinstance(data.get(name), str) else None
        if name in data:
            if not value:
                data[name] = None
            elif value.lstrip("-").isdigit():
                data[name] = int(value)
    return data


def _blank_is_none(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Fields left empty in a form that are dates or choices: not given."""
    for name in names:
        if isinstance(data.get(name), str) and not data[name].strip():
            data[name] = None
    return data


M = TypeVar("M", bound=BaseModel)


def _command(model: type[M], data: dict[str, Any]) -> M:
    """The form's command, or Invalid naming each bad field in the reader's language."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Invalid("formularen har ugyldige felter", errors=field_errors(error)) from None


def _render(template: str, code: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, vocabulary=services.VOCABULARY,
                           status_label=lifecycle.status_label,
                           lang=current_language(), **context), code


# Environments -----------------------------------------------------------------------------------


@bp.get("/test-environments")
def environments_page() -> tuple[str, int]:
    db = get_session()
    theme = request.args.get("theme") or None
    environments = services.list_test_environments(db, theme=theme)
    return _render("testbeds/environments.html", environments=environments, theme=theme,
                   slots=services.free_slots(db, now=utcnow()))


@bp.get("/test-environments/<int:environment_id>")
def environment_page(environment_id: int) -> tuple[str, int]:
    db = get_session()
    environment = services.require_test_environment(db, environment_id=environment_id)
    return _render(
        "testbeds/environment.html", environment=environment,
        slots=services.free_slots(db, now=utcnow()).get(environment.id, 0),
        datasets=services.environment_datasets(db, environment=environment),
        can_edit=services.hosts_environment(current_principal(), environment),
    )


ENVIRONMENT_FORM = ("name_da", "name_en", "description_da", "description_en", "themes",
                    "target_groups", "resources", "facilities", "trl_min", "trl_max",
                    "capacity_per_year", "contact_name", "contact_email", "homepage")


@bp.route("/test-environments/<int:environment_id>/edit", methods=["GET", "POST"])
@login_required(kinds=STAFF)
def environment_edit_page(environment_id: int) -> tuple[str, int] | Response:
    db = get_session()
    actor = current_principal()
    environment = services.require_test_environment(db, environment_id=environment_id)
    if not services.hosts_environment(actor, environment):
        raise Forbidden("kun testmiljøets værter kan rette det")
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        data = _whole_numbers(_form_data(request.form, ENVIRONMENT_FORM),
                              ("trl_min", "trl_max", "capacity_per_year"))
        data["dataset_ids"] = [int(v) if v.isdigit() else v
                               for v in request.form.getlist("dataset_ids")]
        try:
            services.update_test_environment(db, actor=actor, environment_id=environment_id,
                                             changes=_command(EnvironmentChanges, data))
        except Invalid as error:
            db.rollback()
            errors = error.translated_errors() or [
                         {"field": "", "message": error.translated_detail()}]
        else:
            db.commit()
            flash(_("Testmiljøet er opdateret."), "success")
            return redirect(url_for("testbeds.environment_page", environment_id=environment_id),
                            code=303)
    return _render("testbeds/environment_edit.html", 422 if errors else 200,
                   environment=environment, errors=errors,
                   datasets=services.linkable_datasets(db))


# Matching ---------------------------------------------------------------------------------------

PROFILE_FORM = ("name", "themes", "target_groups", "needs", "facilities", "trl", "description")


@bp.route("/matches", methods=["GET", "POST"])
def matches_page() -> tuple[str, int]:
    db = get_session()
    actor = current_principal()
    is_company = actor.org_kind == "company"
    form = _whole_numbers(_form_data(request.form, PROFILE_FORM), ("trl",))
    errors: list[dict[str, str]] = []
    result, solution = None, None
    if request.method == "GET" and request.args.get("solution", "").isdigit():
        solution = services.require_solution_profile(db, actor=actor,
                                                     profile_id=int(request.args["solution"]))
        result = services.match_environments(db, profile=services.profile_of(solution),
                                             now=utcnow())
        form = {"name": solution.name, "themes": solution.themes,
                "target_groups": solution.target_groups, "needs": solution.needs,
                "facilities": solution.facilities, "trl": solution.trl,
                "description": solution.description}
    elif request.method == "POST":
        solution_id = request.form.get("solution", "")
        try:
            solution, result = services.describe_and_match(
                db, actor=actor, description=_command(SolutionDescription, form), now=utcnow(),
                solution_id=int(solution_id) if solution_id.isdigit() else None,
            )
        except Invalid as error:
            db.rollback()
            errors = error.translated_errors() or [
                         {"field": "", "message": error.translated_detail()}]
            if solution_id.isdigit():  # stay on the profile being edited
                solution = services.require_solution_profile(db, actor=actor,
                                                             profile_id=int(solution_id))
        else:
            db.commit()
    return _render("testbeds/matches.html", 422 if errors else 200, form=form, errors=errors,
                   result=result, solution=solution, is_company=is_company)


# Test courses -----------------------------------------------------------------------------------


@bp.get("/test-courses")
@login_required(kinds=STAFF)
def courses_page() -> tuple[str, int]:
    db = get_session()
    actor = current_principal()
    chosen = request.args.get("status") or None
    courses = services.list_test_courses(db, actor=actor, status=chosen)
    solutions = (services.list_solution_profiles(db, actor=actor)
                 if actor.org_kind == "company" else [])
    return _render("testbeds/courses.html", courses=courses, solutions=solutions,
                   status=chosen, statuses=lifecycle.STATUS_LABELS)


COURSE_FORM = ("title", "goal", "planned_start", "planned_end", "participants_planned")


@bp.route("/test-courses/new", methods=["GET", "POST"])
@login_required(kinds=STAFF)
def course_new_page() -> tuple[str, int] | Response:
    db = get_session()
    actor = current_principal()
    source = request.form if request.method == "POST" else request.args
    environment_id = int(source["environment"]) if source.get("environment", "").isdigit() else 0
    solution_id = int(source["solution"]) if source.get("solution", "").isdigit() else 0
    environment = services.require_test_environment(db, environment_id=environment_id)
    solution = services.require_solution_profile(db, actor=actor, profile_id=solution_id)
    form = _blank_is_none(
        _whole_numbers(_form_data(request.form, COURSE_FORM), ("participants_planned",)),
        ("planned_start", "planned_end"))
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        try:
            proposal = _command(CourseProposal, {**form, "test_environment_id": environment.id,
                                                 "solution_profile_id": solution.id})
            course = services.propose_test_course(db, actor=actor, proposal=proposal,
                                                  now=utcnow())
        except (Invalid, Conflict) as error:
            db.rollback()
            errors = error.translated_errors() or [
                         {"field": "", "message": error.translated_detail()}]
        else:
            db.commit()
            flash(_("Testforløbet er foreslået. Værten tager nu stilling."),
                  "success")
            return redirect(url_for("testbeds.course_page", course_id=course.id), code=303)
    elif not form.get("title"):
        form["title"] = f"{solution.name} – {environment.name(current_language())}"
    return _render("testbeds/course_new.html", 422 if errors else 200, environment=environment,
                   solution=solution, form=form, errors=errors)


@bp.get("/test-courses/<int:course_id>")
@login_required(kinds=STAFF)
def course_page(course_id: int) -> tuple[str, int]:
    actor = current_principal()
    course = services.require_test_course(get_session(), actor=actor, course_id=course_id)
    party = services.party_of(actor, course)
    moves = [
        target for target in lifecycle.NEXT_STATUS[course.status]
        if party and lifecycle.transition_problem(course.status, target, party=party) is None
    ]
    return _render(
        "testbeds/course.html", course=course, party=party, moves=moves,
        dimensions=lifecycle.EFFECT_DIMENSIONS,
        outcomes_open=bool(party) and course.status in lifecycle.OUTCOMES_OPEN,
        corrections_open=bool(party) and course.status in (*lifecycle.OUTCOMES_OPEN, "evaluated"),
        corrections=services.outcome_corrections(get_session(), course=course),
        dossier_ready=course.status in lifecycle.DOSSIER_READY,
        can_procure=(services.is_public_buyer(actor) or actor.is_operator)
        and course.status in lifecycle.DOSSIER_READY and course.procurement is None,
    )


def _course_action(course_id: int, action: Any) -> Response:
    """Run a form action on a course; invalid or conflicting input comes back as a message."""
    db = get_session()
    try:
        action(db)
    except (Invalid, Conflict) as error:
        db.rollback()
        details = "; ".join(f"{e['field']}: {e['message']}" for e in error.errors or [])
        flash(_("Ikke gemt: {detail}", detail=details or error.translated_detail()), "error")
    else:
        db.commit()
        flash(_("Gemt."), "success")
    return redirect(url_for("testbeds.course_page", course_id=course_id), code=303)


@bp.post("/test-courses/<int:course_id>/status")
@login_required(kinds=STAFF)
def course_status_action(course_id: int) -> Response:
    changes = {"status": request.form.get("status", ""),
               "comment": request.form.get("comment", "")}
    return _course_action(course_id, lambda db: services.change_test_course(
        db, actor=current_principal(), course_id=course_id,
        changes=_command(CourseChanges, changes), now=utcnow()))


PROCUREMENT_FORM = ("yearly_cost_dkk", "procurement_need", "procurement_value",
                    "procurement_market")


@bp.post("/test-courses/<int:course_id>/procurement-inputs")
@login_required(kinds=STAFF)
def course_procurement_inputs_action(course_id: int) -> Response:
    changes = _whole_numbers(_form_data(request.form, PROCUREMENT_FORM), ("yearly_cost_dkk",))
    return _course_action(course_id, lambda db: services.change_test_course(
        db, actor=current_principal(), course_id=course_id,
        changes=_command(CourseChanges, changes), now=utcnow()))


OUTCOME_FORM = ("dimension", "metric", "unit", "baseline", "result", "better", "note", "reason")


@bp.post("/test-courses/<int:course_id>/outcomes")
@login_required(kinds=STAFF)
def course_outcome_action(course_id: int) -> Response:
    data = _blank_is_none(_form_data(request.form, OUTCOME_FORM), ("dimension", "better"))
    data["baseline"] = (data.get("baseline") or "").replace(",", ".") or None
    data["result"] = (data.get("result") or "").replace(",", ".") or None
    return _course_action(course_id, lambda db: services.record_outcome(
        db, actor=current_principal(), course_id=course_id,
        report=_command(OutcomeReport, data)))


@bp.post("/test-courses/<int:course_id>/evidence")
@login_required(kinds=STAFF)
def course_evidence_action(course_id: int) -> Response:
    request.max_content_length = services.EVIDENCE_MAX_BYTES + 64 * 1024
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Vælg en fil."), "error")
        return redirect(url_for("testbeds.course_page", course_id=course_id), code=303)
    data = upload.read(services.EVIDENCE_MAX_BYTES + 1)
    return _course_action(course_id, lambda db: services.add_evidence(
        db, actor=current_principal(), course_id=course_id, filename=upload.filename, data=data,
        dimension=request.form.get("dimension") or None, keyring=current_keyring(),
        data_dir=current_app.config["DATA_DIR"]))


@bp.get("/test-courses/<int:course_id>/evidence/<int:evidence_id>")
@login_required(kinds=STAFF)
def course_evidence_download(course_id: int, evidence_id: int) -> Response:
    return evidence_response(evidence_id)


@bp.post("/test-courses/<int:course_id>/procurement")
@login_required(kinds=STAFF)
def course_procurement_action(course_id: int) -> Response:
    note = request.form.get("note", "")
    return _course_action(course_id, lambda db: services.start_procurement(
        db, actor=current_principal(), course_id=course_id, note=note, now=utcnow()))


@bp.get("/test-courses/<int:course_id>/dossier")
@login_required(kinds=STAFF)
def dossier_page(course_id: int) -> tuple[str, int]:
    """The dossier; `?sha256=` checks a printed dossier's hash against the current content."""
    html, facts = dossier_document(build_dossier(course_id), printable=False,
                                   asked=request.args.get("sha256"))
    return html, facts.status


@bp.get("/test-courses/<int:course_id>/dossier.pdf")
@login_required(kinds=STAFF)
def dossier_pdf_page(course_id: int) -> Response:
    return dossier_pdf_response(course_id)
