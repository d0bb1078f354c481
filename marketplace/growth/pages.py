"""Browser pages of the growth pipeline (server-rendered, Danish by default, ?lang=en)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from pydantic import BaseModel, ValidationError
from werkzeug.wrappers import Response

from marketplace.db import get_session, utcnow
from marketplace.errors import Conflict, Invalid
from marketplace.growth import (
    cases,
    clinical,
    evidence,
    gates,
    kpis,
    opportunities,
    problems,
    procurement,
    serialise,
    stages,
)
from marketplace.growth.models import ALL_STAGES, ORIGINS, STAGES, TRACKS
from marketplace.growth.schemas import (
    BoardQuery,
    ClinicalProjectIn,
    EvidenceIn,
    GateDecisionIn,
    OpportunityChange,
    OpportunityIn,
    PlanIn,
    ProcurementCaseIn,
    RecommendationIn,
    ReviveIn,
    StepIn,
)
from marketplace.growth.views import (
    bp,
    case_document,
    case_pdf_response,
    screening_model,
    translate,
)
from marketplace.identity import services as identity_services
from marketplace.identity.auth import current_principal, login_required
from marketplace.languages import N_
from marketplace.web import charts
from marketplace.web.api import field_errors
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

STAFF = ("staff",)
DIMENSIONS = ("treatment_errors", "prevented_admissions", "faster_return_home", "own_resources")
DIMENSION_LABELS = {
    "treatment_errors": N_("Færre behandlingsfejl"),
    "prevented_admissions": N_("Forebyggede indlæggelser"),
    "faster_return_home": N_("Hurtigere tilbage til eget hjem og liv"),
    "own_resources": N_("Borgerens egne ressourcer"),
}
ORIGIN_LABELS = {"idea": N_("Idé"), "clinical_project": N_("Klinisk projekt"),
                 "test_course": N_("Testforløb")}
TRACK_LABELS = {"procurement": N_("Innovativt indkøb og implementering"),
                "partnership": N_("Offentlig-privat kommercialiseringspartnerskab"),
                "export": N_("Eksportindsats")}
SOURCE_LABELS = {"test_course": N_("Testforløb"),
                 "clinical_project": N_("Klinisk projekt"),
                 "statistics": N_("Statistik"),
                 "output": N_("Frigivet output")}


def pick(table: dict[str, str], key: str) -> str:
    return _(table.get(key, key))


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    lang = current_language()
    return render_template(
        template, lang=lang, stage_label=lambda s: stages.stage_label(s, lang),
        decision_label=lambda d: stages.decision_label(d, lang),
        origin_label=lambda o: pick(ORIGIN_LABELS, o),
        track_label=lambda t: pick(TRACK_LABELS, t),
        dimension_label=lambda d: pick(DIMENSION_LABELS, d),
        source_label=lambda s: pick(SOURCE_LABELS, s),
        theme_label=lambda t: opportunities.theme_label(t, lang), **context), status


# Board, registration, agenda -------------------------------------------------------------------


@bp.get("/opportunities")
@login_required(kinds=STAFF)
def board_page() -> tuple[str, int]:
    actor = current_principal()
    try:
        query = BoardQuery.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise Invalid(_("ugyldigt filter"), errors=field_errors(error)) from None
    try:
        board = opportunities.pipeline_board(get_session(), actor=actor, stage=query.stage,
                                             origin=query.origin, theme=query.theme, q=query.q)
    except Invalid as error:
        raise translate(error) from None
    counts = [(stages.stage_label(stage, current_language()), board.counts[stage])
              for stage in ALL_STAGES]
    chart = charts.bar_chart(counts, title=_("Muligheder pr. fase"))
    return _render("growth/board.html", board=board, query=query, stages=ALL_STAGES,
                   origins=ORIGINS, themes=opportunities.theme_codes(), chart=chart,
                   can_register=actor.has_scope("growth:write"))


def _form_model(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, list[dict[str, str]]]:
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        return None, field_errors(error)


@bp.route("/opportunities/new", methods=["GET", "POST"])
@login_required(kinds=STAFF)
def register_page() -> tuple[str, int] | Response:
    db = get_session()
    actor = current_principal()
    errors: list[dict[str, str]] = []
    form: dict[str, Any] = {"origin": "idea", "companies": [], "themes": []}
    if request.method == "POST":
        form = {"title": request.form.get("title", ""),
                "description": request.form.get("description", ""),
                "origin": request.form.get("origin", "idea"),
                "need_owner": request.form.get("need_owner") or None,
                "companies": request.form.getlist("companies"),
                "themes": request.form.getlist("themes")}
        data, errors = _form_model(OpportunityIn, form)
        if data is not None:
            try:
                opportunity = opportunities.create_opportunity(db, actor=actor, data=data,
                                                               now=utcnow())
            except Invalid as error:
                db.rollback()
                errors = translate(error).errors or []
            else:
                db.commit()
                flash(_("Muligheden er registreret som en boble."), "success")
                return redirect(url_for("growth.opportunity_page",
                                        opportunity_id=opportunity.id), code=303)
    return _render("growth/new.html", 422 if errors else 200, form=form, errors=errors,
                   origins=ORIGINS, themes=opportunities.theme_codes(),
                   public_orgs=identity_services.list_orgs(
                       db, kinds=opportunities.PUBLIC_KINDS),
                   companies=identity_services.list_orgs(db, kinds=("company",)))


OUTCOME_ROWS = 3


def _clinical_form(form: Any) -> dict[str, Any]:
    """Read the clinical-project form into the API's shape; blank outcome rows are skipped."""
    outcomes = []
    for row in range(OUTCOME_ROWS):
        values = {name: (form.get(f"outcome-{row}-{name}") or "").strip()
                  for name in ("dimension", "metric", "baseline", "result", "unit")}
        if values["metric"] or values["result"]:
            outcomes.append({**values, "baseline": values["baseline"] or None})
    permits = [part.strip() for part in (form.get("permit_ids") or "").split(",")
               if part.strip()]
    return {"title": form.get("title", ""), "description": form.get("description", ""),
            "department": form.get("department", ""), "funding_dkk": form.get("funding_dkk"),
            "start": form.get("start"), "end": form.get("end"),
            "ethics_approval": form.get("ethics_approval", ""), "permit_ids": permits,
            "company_partners": form.getlist("company_partners"),
            "themes": form.getlist("themes"), "outcomes": outcomes}


@bp.route("/clinical-projects/new", methods=["GET", "POST"])
@login_required(kinds=STAFF)
def clinical_project_page() -> tuple[str, int] | Response:
    db = get_session()
    actor = current_principal()
    errors: list[dict[str, str]] = []
    form: dict[str, Any] = {"department": actor.org_slug, "company_partners": [],
                            "themes": [], "outcomes": []}
    if request.method == "POST":
        form = _clinical_form(request.form)
        data, errors = _form_model(ClinicalProjectIn, form)
        if data is not None:
            try:
                _project, opportunity = clinical.register_clinical_project(
                    db, actor=actor, data=data, now=utcnow())
            except Invalid as error:
                db.rollback()
                errors = translate(error).errors or []
            else:
                db.commit()
                flash(_("Det kliniske projekt er registreret og står i Kvalificering."),
                      "success")
                return redirect(url_for("growth.opportunity_page",
                                        opportunity_id=opportunity.id), code=303)
    return _render("growth/clinical_new.html", 422 if errors else 200, form=form,
                   errors=errors, dimensions=DIMENSIONS, rows=range(OUTCOME_ROWS),
                   themes=opportunities.theme_codes(),
                   departments=identity_services.list_orgs(db, kinds=clinical.HOSPITAL_KINDS),
                   companies=identity_services.list_orgs(db, kinds=("company",)))


@bp.route("/opportunities/<int:opportunity_id>/edit", methods=["GET", "POST"])
@login_required(kinds=STAFF)
def edit_page(opportunity_id: int) -> tuple[str, int] | Response:
    db = get_session()
    actor = current_principal()
    opportunity = opportunities.require_opportunity(db, actor=actor,
                                                    opportunity_id=opportunity_id)
    if not opportunities.can_edit(actor, opportunity):
        raise translate(problems.forbidden(
            "kun den registrerende organisation og sekretariatet kan ændre muligheden"))
    errors: list[dict[str, str]] = []
    form: dict[str, Any] = {
        "title": opportunity.title, "description": opportunity.description,
        "need_owner": opportunity.need_owner.slug if opportunity.need_owner else None,
        "companies": [c.org.slug for c in opportunity.companies],
        "themes": list(opportunity.themes or [])}
    if request.method == "POST":
        form = {"title": request.form.get("title", ""),
                "description": request.form.get("description", ""),
                "need_owner": request.form.get("need_owner") or None,
                "companies": request.form.getlist("companies"),
                "themes": request.form.getlist("themes")}
        data, errors = _form_model(OpportunityChange, form)
        if data is not None:
            try:
                opportunities.change_opportunity(db, actor=actor, opportunity_id=opportunity_id,
                                                 data=data, now=utcnow())
            except Invalid as error:
                db.rollback()
                errors = translate(error).errors or []
            else:
                db.commit()
                flash(_("Muligheden er opdateret."), "success")
                return redirect(url_for("growth.opportunity_page",
                                        opportunity_id=opportunity_id), code=303)
    return _render("growth/new.html", 422 if errors else 200, form=form, errors=errors,
                   editing=opportunity, origins=ORIGINS, themes=opportunities.theme_codes(),
                   public_orgs=identity_services.list_orgs(
                       db, kinds=opportunities.PUBLIC_KINDS),
                   companies=identity_services.list_orgs(db, kinds=("company",)))


@bp.get("/opportunities/agenda")
@login_required(kinds=STAFF)
def agenda_page() -> tuple[str, int]:
    db = get_session()
    actor = current_principal()
    opportunities.require_member(actor)
    items = [(opportunity, gates.open_recommendation(db, opportunity=opportunity))
             for opportunity in opportunities.awaiting_decision(db, actor=actor)]
    return _render("growth/agenda.html", items=items, model=screening_model(), today=utcnow())


@bp.get("/screening-model")
def screening_model_page() -> tuple[str, int]:
    return _render("growth/screening_model.html", model=screening_model())


@bp.get("/opportunities/progress")
def progress_page() -> tuple[str, int]:
    report = kpis.growth_report(get_session(), now=utcnow())
    lang = current_language()
    milestone_items: list[tuple[str, float]] = []
    for milestone in report.test_course_milestones:
        milestone_items += [(_("{year}: mål", year=milestone.year), milestone.target),
                            (_("{year}: opnået", year=milestone.year), milestone.value)]
    cumulative_items = [(str(m.year), m.cumulative) for m in report.test_course_milestones]
    opportunity_items = [(str(year), n) for year, n in report.opportunities_by_year.items()]
    return _render(
        "growth/progress.html", report=report,
        bars=[(target, charts.progress_bar(target.progress, label=target.label(lang)))
              for target in report.targets],
        milestone_chart=charts.bar_chart(milestone_items,
                                         title=_("Testforløb pr. år mod milepælene")),
        cumulative_chart=charts.bar_chart(cumulative_items, target=100,
                                          title=_("Testforløb i alt mod målet på 100")),
        opportunity_chart=charts.bar_chart(
            opportunity_items or [(_("ingen endnu"), 0)], target=kpis.OPPORTUNITIES_PER_YEAR,
            title=_("Muligheder sat i gang pr. år mod 3 om året")))


# One opportunity -------------------------------------------------------------------------------


def _detail(opportunity_id: int, *, status: int = 200, errors: list[dict[str, str]] | None = None,
            failed: str | None = None, form: dict[str, Any] | None = None) -> tuple[str, int]:
    db = get_session()
    actor = current_principal()
    opportunity = opportunities.require_opportunity(db, actor=actor,
                                                    opportunity_id=opportunity_id)
    model = screening_model()
    pending = gates.open_recommendation(db, opportunity=opportunity)
    next_stage = (STAGES[STAGES.index(opportunity.stage) + 1]
                  if opportunity.stage in STAGES[:-1] else None)
    return _render(
        "growth/opportunity.html", status, opportunity=opportunity, model=model,
        pending=pending, next_stage=next_stage, stages=STAGES, tracks=TRACKS,
        dimensions=DIMENSIONS, timeline=serialise.timeline(
            opportunity, opportunities.audited_history(db, opportunity=opportunity)),
        latest=opportunity.recommendations[-1] if opportunity.recommendations else None,
        project=clinical.clinical_project_of(db, opportunity_id=opportunity.id),
        case=cases.case_of(db, opportunity_id=opportunity.id),
        can_recommend=opportunities.is_secretariat(actor) and pending is None,
        can_decide=(pending is not None and (opportunities.is_steering_group(actor) or (
            opportunities.is_secretariat(actor) and "secretariat" in model.deciders(
                pending.to_stage)))),
        can_revive=opportunities.is_cluster(actor),
        can_edit=opportunities.can_edit(actor, opportunity),
        errors=errors or [], failed=failed, form=form or {})


@bp.get("/opportunities/<int:opportunity_id>")
@login_required(kinds=STAFF)
def opportunity_page(opportunity_id: int) -> tuple[str, int]:
    return _detail(opportunity_id)


def _act(opportunity_id: int, name: str, model: type[BaseModel], data: dict[str, Any],
         act: Callable[[Any], Any], done: str) -> tuple[str, int] | Response:
    """Validate a posted form, run the action, commit; show refusals on the page."""
    db = get_session()
    body, errors = _form_model(model, data)
    if body is None:
        return _detail(opportunity_id, status=422, errors=errors, failed=name, form=data)
    try:
        act(body)
    except (Invalid, Conflict) as error:
        db.rollback()
        translate(error)
        return _detail(opportunity_id, status=error.status,
                       errors=error.translated_errors() or [
                                  {"field": "", "message": error.translated_detail()}],
                       failed=name, form=data)
    db.commit()
    flash(done, "success")
    return redirect(url_for("growth.opportunity_page", opportunity_id=opportunity_id),
                    code=303)


@bp.post("/opportunities/<int:opportunity_id>/recommendations")
@login_required(kinds=STAFF)
def recommend_action(opportunity_id: int) -> tuple[str, int] | Response:
    model = screening_model()
    scores: dict[str, Any] = {}
    for criterion in model.should_meet:
        raw = request.form.get(f"score-{criterion.key}", "").strip()
        if raw:
            scores[criterion.key] = int(raw) if raw.lstrip("-").isdigit() else raw
    must_meet = {c.key: request.form.get(f"must-{c.key}") == "yes" for c in model.must_meet
                 if request.form.get(f"must-{c.key}") in ("yes", "no")}
    reasons = {key.removeprefix("reason-"): value for key, value in request.form.items()
               if key.startswith("reason-") and value.strip()}
    data = {"to_stage": request.form.get("to_stage", ""), "scores": scores,
            "must_meet": must_meet, "reasons": reasons, "text": request.form.get("text", "")}
    return _act(opportunity_id, "recommendation", RecommendationIn, data,
                lambda body: gates.recommend(get_session(), actor=current_principal(),
                                             opportunity_id=opportunity_id, data=body,
                                             model=model, now=utcnow()),
                _("Indstillingen er sendt til styregruppen."))


@bp.post("/opportunities/<int:opportunity_id>/gate-decisions")
@login_required(kinds=STAFF)
def decide_action(opportunity_id: int) -> tuple[str, int] | Response:
    data = {key: request.form.get(key, "") for key in ("to_stage", "decision", "minutes")}
    return _act(opportunity_id, "decision", GateDecisionIn, data,
                lambda body: gates.decide(get_session(), actor=current_principal(),
                                          opportunity_id=opportunity_id, data=body,
                                          model=screening_model(), now=utcnow()),
                _("Beslutningen er registreret."))


@bp.post("/opportunities/<int:opportunity_id>/revive")
@login_required(kinds=STAFF)
def revive_action(opportunity_id: int) -> tuple[str, int] | Response:
    return _act(opportunity_id, "revive", ReviveIn, {"reason": request.form.get("reason", "")},
                lambda body: gates.revive(get_session(), actor=current_principal(),
                                          opportunity_id=opportunity_id, data=body,
                                          now=utcnow()),
                _("Muligheden er genoptaget."))


@bp.post("/opportunities/<int:opportunity_id>/plan")
@login_required(kinds=STAFF)
def plan_action(opportunity_id: int) -> tuple[str, int] | Response:
    kpi_rows = []
    for dimension in DIMENSIONS:
        baseline = request.form.get(f"baseline-{dimension}", "").strip()
        target = request.form.get(f"target-{dimension}", "").strip()
        if baseline or target:
            kpi_rows.append({"dimension": dimension, "baseline": baseline or None,
                             "target": target or None,
                             "unit": request.form.get(f"unit-{dimension}", "")})
    data = {"kpis": kpi_rows, "tracks": request.form.getlist("tracks")}
    return _act(opportunity_id, "plan", PlanIn, data,
                lambda body: gates.set_plan(get_session(), actor=current_principal(),
                                            opportunity_id=opportunity_id, data=body,
                                            now=utcnow()),
                _("Mål og spor er gemt."))


@bp.post("/opportunities/<int:opportunity_id>/evidence")
@login_required(kinds=STAFF)
def evidence_action(opportunity_id: int) -> tuple[str, int] | Response:
    data = {"source": request.form.get("source", ""), "id": request.form.get("id", "")}
    return _act(opportunity_id, "evidence", EvidenceIn, data,
                lambda body: evidence.link_evidence(
                    get_session(), actor=current_principal(), opportunity_id=opportunity_id,
                    source=body.source, source_id=body.id, now=utcnow()),
                _("Evidensen er koblet på."))


@bp.post("/opportunities/<int:opportunity_id>/procurement-case")
@login_required(kinds=STAFF)
def open_case_action(opportunity_id: int) -> tuple[str, int] | Response:
    data = {"yearly_cost_dkk": request.form.get("yearly_cost_dkk", ""),
            "buyer": request.form.get("buyer") or None}
    opened: list[Any] = []

    def act(body: Any) -> None:
        opened.append(cases.open_case(get_session(), actor=current_principal(),
                                      opportunity_id=opportunity_id, data=body, now=utcnow()))

    response = _act(opportunity_id, "case", ProcurementCaseIn, data, act,
                    _("Indkøbssagen er oprettet."))
    if opened:
        return redirect(url_for("growth.case_page", case_id=opened[0].id), code=303)
    return response


# Procurement cases -----------------------------------------------------------------------------


@bp.get("/procurement-cases/<int:case_id>")
@login_required(kinds=STAFF)
def case_page(case_id: int) -> tuple[str, int]:
    """The case; `?sha256=` checks a printed case's hash against the current content."""
    case = cases.require_case(get_session(), actor=current_principal(), case_id=case_id)
    html, facts = case_document(case, printable=False, asked=request.args.get("sha256"))
    return html, facts.status


@bp.get("/procurement-cases/<int:case_id>.pdf")
@login_required(kinds=STAFF)
def case_pdf_page(case_id: int) -> Response:
    case = cases.require_case(get_session(), actor=current_principal(), case_id=case_id)
    return case_pdf_response(case)


@bp.post("/procurement-cases/<int:case_id>/steps/<step>")
@login_required(kinds=STAFF)
def case_step_action(case_id: int, step: str) -> Response:
    db = get_session()
    if step not in procurement.STEP_KEYS:
        raise translate(Invalid(_("ukendt trin")))
    fields: dict[str, Any] = {}
    for name, kind in procurement.STEP_FIELDS[step].items():
        raw = request.form.get(name)
        if raw is None or (step == "procedure" and name == "route"):
            continue
        raw = raw.strip()
        if kind == "int":
            if raw:
                fields[name] = int(raw) if raw.isdigit() else raw
        elif kind == "bool":
            if raw in ("yes", "no"):
                fields[name] = raw == "yes"
        else:
            fields[name] = raw
    data = {"fields": fields, "status": request.form.get("status", "complete")}
    body, errors = _form_model(StepIn, data)
    if body is None:
        raise Invalid(_("ugyldige felter"), errors=errors)
    try:
        cases.complete_step(db, actor=current_principal(), case_id=case_id, step=step,
                            data=body, now=utcnow())
    except Invalid as error:
        db.rollback()
        raise translate(error) from None
    db.commit()
    flash(_("Trinnet er gemt."), "success")
    return redirect(url_for("growth.case_page", case_id=case_id) + f"#step-{step}", code=303)
