"""HTTP glue of the growth pipeline: the typed JSON API here, the browser pages in pages.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for
from flask.blueprints import BlueprintSetupState
from flask_openapi3 import APIBlueprint, Tag

from marketplace.db import get_session, utcnow
from marketplace.errors import DomainError, problem_response
from marketplace.growth import (
    cases,
    clinical,
    evidence,
    gates,
    kpis,
    opportunities,
    procurement,
    serialise,
)
from marketplace.growth.models import Opportunity, ProcurementCase
from marketplace.growth.schemas import (
    CasePath,
    ClinicalProjectIn,
    EvidenceIn,
    GateDecisionIn,
    OpportunityChange,
    OpportunityIn,
    OpportunityPath,
    PlanIn,
    ProcurementCaseIn,
    RecommendationIn,
    ReviveIn,
    Stage,
    StepIn,
    StepPath,
)
from marketplace.growth.screening import ScreeningModel, load_model
from marketplace.identity.auth import api_auth, current_principal
from marketplace.languages import N_
from marketplace.web import documents
from marketplace.web.api import PUBLIC, Out, PageQuery, requires, responses
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

api = APIBlueprint("growth_api", __name__, abp_tags=[Tag(name="growth")])
bp = Blueprint("growth", __name__)

F = TypeVar("F", bound=Callable[..., Any])
MODEL_KEY = "marketplace.screening_model"
SOURCE_NAMES = {"test_course": N_("Testforløb"),
                "clinical_project": N_("Klinisk projekt"),
                "statistics": N_("Statistik"),
                "output": N_("Frigivet output")}


@api.record
def _load_screening_model(state: BlueprintSetupState) -> None:
    # Fails closed: a screening model that does not validate stops start-up.
    state.app.extensions[MODEL_KEY] = load_model(Path(state.app.config["POLICIES_DIR"]))


def documented(*spec: Any) -> Any:
    """`responses(...)` of the typed edge; flask-openapi3 annotates a narrower dict type."""
    return responses(*spec)


def screening_model() -> ScreeningModel:
    return current_app.extensions[MODEL_KEY]


def translate(error: DomainError) -> DomainError:
    """Put a growth service's Danish refusal into the caller's language."""
    template = getattr(error, "template", None)
    if template is not None:
        error.detail = _(template, **getattr(error, "values", {}))
    items = getattr(error, "field_templates", None)
    if items is not None:
        error.errors = [{"field": field, "message": _(message, **values)}
                        for field, message, values in items]
    return error


def _translated_problem(error: DomainError) -> Response:
    return problem_response(translate(error))


# Refusals on the growth pages and API reach the user in their language.
bp.register_error_handler(DomainError, _translated_problem)
api.register_error_handler(DomainError, _translated_problem)


def translated(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            get_session().rollback()
            raise translate(error) from None

    return wrapper  # type: ignore[return-value]


class OpportunityOut(Out):
    id: int
    stage: str


class OpportunityListQuery(PageQuery):
    stage: Stage | None = None


def opportunity_body(opportunity: Opportunity) -> dict[str, Any]:
    db = get_session()
    return serialise.opportunity_json(
        opportunity, clinical_project=clinical.clinical_project_of(
            db, opportunity_id=opportunity.id),
        case=cases.case_of(db, opportunity_id=opportunity.id),
        audited=opportunities.audited_history(db, opportunity=opportunity))


def _created(body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), 201


@api.get("/api/v1/opportunities", responses=documented(200, Out, 401, 403, 422),
         security=requires("growth:write"))
@api_auth()
@translated
def api_list_opportunities(query: OpportunityListQuery) -> Response:
    """List opportunities, newest first (`stage` filters)."""
    items, total = opportunities.list_opportunities(
        get_session(), actor=current_principal(), stage=query.stage, offset=query.offset,
        limit=query.per_page)
    return jsonify({"items": [serialise.summary_json(o) for o in items], "total": total,
                    "page": query.page, "per_page": query.per_page})


@api.post("/api/v1/opportunities", responses=documented(201, OpportunityOut, 401, 403, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_create_opportunity(body: OpportunityIn) -> tuple[Response, int]:
    """Register a growth opportunity; it starts at Bobler."""
    db = get_session()
    opportunity = opportunities.create_opportunity(db, actor=current_principal(), data=body,
                                                   now=utcnow())
    db.commit()
    return _created(opportunity_body(opportunity))


@api.get("/api/v1/opportunities/<int:opportunity_id>",
         responses=documented(200, OpportunityOut, 401, 403, 404, 422),
         security=requires("growth:write"))
@api_auth()
@translated
def api_get_opportunity(path: OpportunityPath) -> Response:
    """Show an opportunity with its scores, evidence and history."""
    opportunity = opportunities.require_opportunity(
        get_session(), actor=current_principal(), opportunity_id=path.opportunity_id)
    return jsonify(opportunity_body(opportunity))


@api.patch("/api/v1/opportunities/<int:opportunity_id>",
           responses=documented(200, OpportunityOut, 401, 403, 404, 422),
           security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_change_opportunity(path: OpportunityPath, body: OpportunityChange) -> Response:
    """Change an opportunity (its registering organisation or the secretariat)."""
    db = get_session()
    opportunity = opportunities.change_opportunity(
        db, actor=current_principal(), opportunity_id=path.opportunity_id, data=body,
        now=utcnow())
    db.commit()
    return jsonify(opportunity_body(opportunity))


@api.post("/api/v1/opportunities/<int:opportunity_id>/recommendations",
          responses=documented(201, Out, 401, 403, 404, 409, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_recommend(path: OpportunityPath, body: RecommendationIn) -> tuple[Response, int]:
    """Record the secretariat's recommendation: target stage, scores and text."""
    db = get_session()
    recommendation = gates.recommend(db, actor=current_principal(),
                                     opportunity_id=path.opportunity_id, data=body,
                                     model=screening_model(), now=utcnow())
    db.commit()
    return _created(serialise.recommendation_json(recommendation))


@api.post("/api/v1/opportunities/<int:opportunity_id>/gate-decisions",
          responses=documented(201, Out, 401, 403, 404, 409, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_decide(path: OpportunityPath, body: GateDecisionIn) -> tuple[Response, int]:
    """Record the steering group's gate decision (go, kill, hold or recycle) with minutes."""
    db = get_session()
    decision = gates.decide(db, actor=current_principal(), opportunity_id=path.opportunity_id,
                            data=body, model=screening_model(), now=utcnow())
    db.commit()
    return _created(serialise.decision_json(decision))


@api.post("/api/v1/opportunities/<int:opportunity_id>/revive",
          responses=documented(201, Out, 401, 403, 404, 409, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_revive(path: OpportunityPath, body: ReviveIn) -> tuple[Response, int]:
    """Revive a parked or stopped opportunity with a reason."""
    db = get_session()
    decision = gates.revive(db, actor=current_principal(), opportunity_id=path.opportunity_id,
                            data=body, now=utcnow())
    db.commit()
    return _created(serialise.decision_json(decision))


@api.put("/api/v1/opportunities/<int:opportunity_id>/plan",
         responses=documented(200, OpportunityOut, 401, 403, 404, 409, 422),
         security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_plan(path: OpportunityPath, body: PlanIn) -> Response:
    """Set the KPIs (baseline and target per effect dimension) and the execution tracks."""
    db = get_session()
    opportunity = gates.set_plan(db, actor=current_principal(),
                                 opportunity_id=path.opportunity_id, data=body, now=utcnow())
    db.commit()
    return jsonify(opportunity_body(opportunity))


@api.post("/api/v1/opportunities/<int:opportunity_id>/evidence",
          responses=documented(201, Out, 401, 403, 404, 409, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_link_evidence(path: OpportunityPath, body: EvidenceIn) -> tuple[Response, int]:
    """Link evidence: a test course, a clinical project, a released output or statistics."""
    db = get_session()
    item = evidence.link_evidence(db, actor=current_principal(),
                                  opportunity_id=path.opportunity_id, source=body.source,
                                  source_id=body.id, now=utcnow())
    db.commit()
    return _created(serialise.evidence_json(item))


@api.get("/api/v1/screening-model", responses=documented(200, Out), security=PUBLIC)
def api_screening_model() -> Response:
    """The screening model: must-meet knock-outs and weighted should-meet criteria."""
    return jsonify(screening_model().to_json())


@api.post("/api/v1/clinical-projects", responses=documented(201, Out, 401, 403, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_register_clinical_project(body: ClinicalProjectIn) -> tuple[Response, int]:
    """Register a running clinical project; its opportunity starts at Kvalificering."""
    db = get_session()
    project, opportunity = clinical.register_clinical_project(
        db, actor=current_principal(), data=body, now=utcnow())
    db.commit()
    return _created({**serialise.clinical_project_json(project),
                     "opportunity_id": opportunity.id})


@api.post("/api/v1/opportunities/<int:opportunity_id>/procurement-case",
          responses=documented(201, Out, 401, 403, 404, 409, 422),
          security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_open_case(path: OpportunityPath, body: ProcurementCaseIn) -> tuple[Response, int]:
    """Open the value-based procurement case of an opportunity in Eksekvering."""
    db = get_session()
    case = cases.open_case(db, actor=current_principal(), opportunity_id=path.opportunity_id,
                           data=body, now=utcnow())
    db.commit()
    return _created(serialise.case_json(case))


@api.get("/api/v1/procurement-cases/<int:case_id>",
         responses=documented(200, Out, 401, 403, 404, 422), security=requires("growth:write"))
@api_auth()
@translated
def api_get_case(path: CasePath) -> Response:
    """Show a procurement case as JSON (the hand-over to procurement)."""
    case = cases.require_case(get_session(), actor=current_principal(), case_id=path.case_id)
    return jsonify({**serialise.case_json(case),
                    "sha256": documents.content_sha256(case_content(case))})


@api.get("/api/v1/procurement-cases/<int:case_id>/pdf",
         responses=documented(200, None, 401, 403, 404, 422), security=requires("growth:write"))
@api_auth()
@translated
def api_case_pdf(path: CasePath) -> Response:
    """The procurement case as a PDF (the same document as its page)."""
    case = cases.require_case(get_session(), actor=current_principal(), case_id=path.case_id)
    return case_pdf_response(case)


@api.put("/api/v1/procurement-cases/<int:case_id>/steps/<step>",
         responses=documented(200, Out, 401, 403, 404, 422), security=requires("growth:write"))
@api_auth("growth:write")
@translated
def api_complete_step(path: StepPath, body: StepIn) -> Response:
    """The buyer fills in or completes one of the six steps."""
    db = get_session()
    case = cases.complete_step(db, actor=current_principal(), case_id=path.case_id,
                               step=path.step, data=body, now=utcnow())
    db.commit()
    return jsonify(serialise.case_json(case))


@api.get("/api/v1/growth-kpis", responses=documented(200, Out), security=PUBLIC)
def api_growth_kpis() -> Response:
    """The growth targets against live records (also merged into /api/v1/kpis)."""
    return jsonify({"as_of": utcnow().isoformat(),
                    **kpis.growth_kpis(get_session(), now=utcnow())})


def _evidence_href(ref: dict[str, Any], case: ProcurementCase) -> str:
    source, ident = ref["source"], ref["id"]
    if source == "test_course":
        return f"/test-courses/{ident}"
    if source == "output":
        return f"/api/v1/outputs/{ident}/manifest"
    if source == "statistics":
        return f"/api/v1/statistics-requests/{ident}"
    return url_for("growth.opportunity_page", opportunity_id=case.opportunity_id)


def case_content(case: ProcurementCase) -> dict[str, Any]:
    """What the case's verification hash covers: its JSON (language-neutral codes)."""
    return serialise.case_json(case)


def case_facts(case: ProcurementCase, *, asked: str | None = None) -> documents.DocumentFacts:
    """The case's source, date and verification hash; `asked` is a hash to check."""
    lang = current_language()
    refs = list(dict.fromkeys((ref["source"], ref["id"]) for step in case.steps
                              for ref in step.get("evidence", [])))
    evidence = ", ".join(f"{procurement.label(SOURCE_NAMES, source, lang).lower()} {ident}"
                         for source, ident in refs) or _("ingen")
    source = _("Sundhedsdatamarkedspladsen: vækstmulighed nr. {id} ({title}), udfyldt af "
               "{buyer}; evidens: {evidence}", id=case.opportunity_id,
               title=case.opportunity.title, buyer=case.buyer.name, evidence=evidence)
    return documents.checking(documents.DocumentFacts(
        kind=_("Værdibaseret indkøbssag"), source=source, generated_at=utcnow(),
        content=case_content(case),
        verify_url=url_for("growth.case_page", case_id=case.id, _external=True)), asked)


def case_document(case: ProcurementCase, *, printable: bool, asked: str | None = None
                  ) -> tuple[str, documents.DocumentFacts]:
    """The case as one HTML document: the page, and (printable) the source of its PDF."""
    lang = current_language()
    actor = current_principal()
    facts = case_facts(case, asked=asked)
    html = render_template(
        "growth/case.html", case=case, data=serialise.case_json(case), printable=printable,
        lang=lang, print_css=documents.print_css("growth.css") if printable else "",
        document=facts, number=documents.figure,
        route_label=lambda key: procurement.label(procurement.ROUTE_LABELS, key, lang),
        step_label=lambda key: procurement.label(procurement.STEP_LABELS, key, lang),
        status_label=lambda key: procurement.label(procurement.STATUS_LABELS, key, lang),
        field_label=lambda key: procurement.label(procurement.FIELD_LABELS, key, lang),
        source_name=lambda key: procurement.label(SOURCE_NAMES, key, lang),
        evidence_href=lambda ref: _evidence_href(ref, case),
        step_fields=procurement.STEP_FIELDS,
        can_complete=not printable and actor.belongs_to(case.buyer_org_id))
    return html, facts


def case_pdf_response(case: ProcurementCase) -> Response:
    html, facts = case_document(case, printable=True)
    return documents.pdf_response(html, facts, filename=f"indkoebssag-{case.id}.pdf")


from marketplace.growth import pages  # noqa: E402, F401  (registers the browser pages on bp)
