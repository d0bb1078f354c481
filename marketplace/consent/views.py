"""HTTP glue of the consent domain: the citizen's JSON API and pages, guardianship admin."""
import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_openapi3 import APIBlueprint, Tag
from flask_openapi3.types import ResponseDict
from pydantic import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from marketplace.consent import receipts, services
from marketplace.consent.commands import (
    ActingFor,
    ConsentChoice,
    GuardianshipRegistration,
)
from marketplace.consent.evaluation import CitizenConsent, StandingChoice
from marketplace.consent.models import ConsentEvent, Guardianship
from marketplace.consent.schemas import (
    ActingForOut,
    ConsentsOut,
    DataUseList,
    EventList,
    GuardianshipOut,
    GuardianshipPath,
    PurposeList,
    ReceiptQuery,
    WardsOut,
)
from marketplace.db import get_session, utcnow
from marketplace.errors import Invalid
from marketplace.identity import services as identity_services
from marketplace.identity import sessions
from marketplace.identity.auth import api_auth, citizen_required, current_principal
from marketplace.security import current_keyring
from marketplace.web import documents
from marketplace.web.api import PUBLIC, requires, responses
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

api = APIBlueprint("consent_api", __name__, abp_tags=[Tag(name="consent")])
bp = Blueprint("consent", __name__)

ACTING_FOR = "acting_for_citizen_id"
SAVED = "consent_saved"  # the confirmation the next consent page shows beside what was saved
SAVED_ID = "consent-saved"


def forget_stale_acting_for() -> None:
    """Stop acting for a child who has turned 15 or is no longer in the citizen's care."""
    child_id = session.get(ACTING_FOR)
    principal = current_principal()
    if child_id is None or principal.kind != "citizen" or principal.citizen_id is None:
        return
    wards = services.list_wards(get_session(), guardian_citizen_id=principal.citizen_id,
                                now=utcnow())
    if all(ward.id != child_id for ward in wards):
        session.pop(ACTING_FOR)
        flash(_("Du handler nu for dig selv igen."), "info")


def _record_guardians(db: Any, signed_in: sessions.CitizenSignedIn) -> None:
    """The children the sign-in claim names come under the citizen's care (and others end)."""
    services.register_guardianships(db, keyring=signed_in.keyring, guardian=signed_in.citizen,
                                    child_cprs=signed_in.child_cprs)


@bp.record_once
def _on_sign_in(state: Any) -> None:
    state.app.extensions.setdefault(sessions.CITIZEN_SIGN_IN_HOOKS, []).append(_record_guardians)


bp.before_request(forget_stale_acting_for)
api.before_request(forget_stale_acting_for)


def _subject_id() -> int | None:
    return session.get(ACTING_FOR)


def _download(document: dict, *, filename: str, media_type: str, as_file: bool) -> Response:
    response = Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype=media_type)
    if as_file:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- serialisation ------------------------------------------------------------------------------

def _choice_json(choice: StandingChoice, citizen_id: int) -> dict:
    return {"scope": {"type": choice.scope_type, "id": choice.scope_id},
            "purpose": choice.purpose, "decision": choice.decision,
            "at": choice.at.isoformat(), "notice_version": choice.notice_version,
            "acted_by": "self" if choice.actor_citizen_id == citizen_id else "guardian"}


def _consents_json(consent: CitizenConsent, citizen_id: int) -> dict:
    return {"citizen_id": citizen_id, "opt_out": consent.opt_out,
            "opt_out_since": consent.opt_out_since.isoformat()
            if consent.opt_out and consent.opt_out_since else None,
            "choices": [_choice_json(c, citizen_id) for c in consent.choices]}


def _event_json(event: ConsentEvent) -> dict:
    return {"id": event.id, "at": event.at.isoformat(), "decision": event.decision,
            "scope": {"type": event.scope_type, "id": event.scope_id},
            "purpose": event.purpose, "notice_version": event.notice_version,
            "channel": event.channel, "acted_by": "guardian" if event.by_guardian else "self"}


def _guardianship_json(link: Guardianship) -> dict:
    return {"id": link.id, "guardian_citizen_id": link.guardian_citizen_id,
            "child_citizen_id": link.child_citizen_id, "source": link.source,
            "created_at": link.created_at.isoformat(),
            "ended_at": link.ended_at.isoformat() if link.ended_at else None}


def _subject_for_response() -> int:
    return _subject_id() or _own_citizen_id()


# --- API ----------------------------------------------------------------------------------------

# A citizen's own browser sign-in; no token speaks for a citizen.
CITIZEN: list[dict[str, list[str]]] = [{"session": []}]


@api.get("/api/v1/purposes", responses=responses(200, PurposeList), security=PUBLIC)
def api_purposes() -> Response:
    """List the purpose taxonomy, prohibited uses included."""
    return jsonify([{
        "code": p.code, "label_da": p.label_da, "label_en": p.label_en,
        "description_da": p.description_da, "description_en": p.description_en,
        "ehds_article": p.ehds_article, "duo": p.duo, "commercial": p.commercial,
        "public_bodies_only": p.public_bodies_only, "prohibited": p.prohibited,
    } for p in services.list_purposes()])


@api.get("/api/v1/me/consents", responses=responses(200, ConsentsOut, 401, 403),
         security=CITIZEN)
@citizen_required
def api_consents() -> Response:
    """Show the signed-in citizen's standing consent choices and opt-out."""
    consent = services.get_consents(get_session(), actor=current_principal(),
                                    subject_citizen_id=_subject_id())
    return jsonify(_consents_json(consent, _subject_for_response()))


@api.put("/api/v1/me/consents", responses=responses(200, ConsentsOut, 400, 401, 403, 422),
         security=CITIZEN)
@citizen_required
def api_set_consent(body: ConsentChoice) -> Response:
    """Permit, deny or clear a purpose for all holders, one holder or one dataset."""
    db = get_session()
    consent = services.set_consent(db, actor=current_principal(), choice=body,
                                   subject_citizen_id=_subject_id(), channel="api")
    db.commit()
    return jsonify(_consents_json(consent, _subject_for_response()))


@api.post("/api/v1/me/opt-out", responses=responses(200, ConsentsOut, 401, 403),
          security=CITIZEN)
@citizen_required
def api_opt_out() -> Response:
    """Opt out of all secondary use of the citizen's health data (EHDS Art. 71)."""
    db = get_session()
    consent = services.set_opt_out(db, actor=current_principal(), opted_out=True,
                                   subject_citizen_id=_subject_id(), channel="api")
    db.commit()
    return jsonify(_consents_json(consent, _subject_for_response()))


@api.delete("/api/v1/me/opt-out", responses=responses(200, ConsentsOut, 401, 403),
            security=CITIZEN)
@citizen_required
def api_withdraw_opt_out() -> Response:
    """Take back the opt-out from secondary use."""
    db = get_session()
    consent = services.set_opt_out(db, actor=current_principal(), opted_out=False,
                                   subject_citizen_id=_subject_id(), channel="api")
    db.commit()
    return jsonify(_consents_json(consent, _subject_for_response()))


@api.get("/api/v1/me/consents/history", responses=responses(200, EventList, 401, 403),
         security=CITIZEN)
@citizen_required
def api_history() -> Response:
    """List every consent event of the citizen, oldest first."""
    history = services.consent_history(get_session(), actor=current_principal(),
                                       subject_citizen_id=_subject_id())
    return jsonify([_event_json(event) for event in history.events])


def _receipt_facts() -> receipts.ReceiptFacts:
    return services.receipt_facts(
        get_session(), actor=current_principal(), keyring=current_keyring(),
        notice_url=url_for("consent.consent_page", _external=True),
        subject_citizen_id=_subject_id())


def _receipt(media_type: str, description: str) -> ResponseDict:
    return responses(401, 403, 422) | {"200": {
        "description": description,
        "content": {media_type: {"schema": {"type": "object"}}}}}


@api.get("/api/v1/me/consents/fhir", security=CITIZEN,
         responses=_receipt("application/fhir+json", "A FHIR R4 Bundle of Consent resources"))
@citizen_required
def api_fhir_receipt(query: ReceiptQuery) -> Response:
    """Receipt of the standing consents as a FHIR R4 Bundle of Consent resources."""
    return _download(receipts.fhir_bundle(_receipt_facts()), filename="samtykke-fhir.json",
                     media_type="application/fhir+json", as_file=query.as_file)


@api.get("/api/v1/me/consents/receipt", security=CITIZEN,
         responses=_receipt("application/json", "An ISO/IEC TS 27560 consent record"))
@citizen_required
def api_record_receipt(query: ReceiptQuery) -> Response:
    """Receipt of the standing consents as an ISO/IEC TS 27560 consent record."""
    return _download(receipts.consent_record(_receipt_facts()),
                     filename="samtykke-kvittering.json", media_type="application/json",
                     as_file=query.as_file)


@api.get("/api/v1/me/data-uses", responses=responses(200, DataUseList, 401, 403),
         security=CITIZEN)
@citizen_required
def api_data_uses() -> Response:
    """List every extract, and every secure processing environment, that used the citizen's
    records (who used my data)."""
    uses = services.list_data_uses(get_session(), actor=current_principal(),
                                   subject_citizen_id=_subject_id())
    return jsonify([{
        "extract_id": use.extract_id, "job_id": use.workspace_job_id,
        "permit_id": use.permit_id,
        "dataset": {"id": use.dataset_id, "title": use.dataset_title},
        "holder": {"slug": use.holder.slug, "name": use.holder.name},
        "company": {"slug": use.company.slug, "name": use.company.name,
                    "country": use.company.country},
        "purpose": use.purpose_code, "at": use.at.isoformat(),
    } for use in uses])


@api.get("/api/v1/me/wards", responses=responses(200, WardsOut, 401, 403), security=CITIZEN)
@citizen_required
def api_wards() -> Response:
    """List the children under 15 the citizen may manage consent for."""
    wards = services.list_wards(get_session(), guardian_citizen_id=_own_citizen_id(),
                                now=utcnow())
    return jsonify({"acting_for_citizen_id": _subject_id(), "children": [
        {"citizen_id": w.id, "name": w.name, "birth_date": w.birth_date.isoformat()}
        for w in wards]})


@api.put("/api/v1/me/acting-for", responses=responses(200, ActingForOut, 400, 401, 403, 422),
         security=CITIZEN)
@citizen_required
def api_acting_for(body: ActingFor) -> Response:
    """Act for one of the citizen's children under 15 (citizen_id) or for oneself (null)."""
    subject = services.require_subject(get_session(), actor=current_principal(),
                                       subject_citizen_id=body.citizen_id, now=utcnow())
    _remember_subject(subject.id)
    return jsonify({"acting_for_citizen_id": _subject_id()})


def _own_citizen_id() -> int:
    return services.citizen_id(current_principal())


def _remember_subject(citizen_id: int) -> None:
    if citizen_id == current_principal().citizen_id:
        session.pop(ACTING_FOR, None)
    else:
        session[ACTING_FOR] = citizen_id


@api.post("/api/v1/guardianships",
          responses=responses(201, GuardianshipOut, 400, 401, 403, 422),
          security=requires())
@api_auth()
def api_register_guardianship(body: GuardianshipRegistration) -> tuple[Response, int]:
    """Register that a parent has custody of a child under 15 (operator only)."""
    db = get_session()
    link = services.register_guardianship(db, actor=current_principal(),
                                          keyring=current_keyring(), registration=body)
    db.commit()
    return jsonify(_guardianship_json(link)), 201


@api.delete("/api/v1/guardianships/<int:guardianship_id>",
            responses=responses(200, GuardianshipOut, 401, 403, 404, 422), security=requires())
@api_auth()
def api_end_guardianship(path: GuardianshipPath) -> Response:
    """End a registered guardianship (operator only)."""
    db = get_session()
    link = services.end_guardianship(db, actor=current_principal(),
                                     guardianship_id=path.guardianship_id)
    db.commit()
    return jsonify(_guardianship_json(link))


# --- pages --------------------------------------------------------------------------------------

def _form_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise Invalid.field(name, _("Ugyldigt valg."))
    return int(value)


def _form_target() -> tuple[str, int | None]:
    """The scope of a form: 'all', or 'holder:<id>' / 'dataset:<id>' from the target list."""
    target = request.form.get("target", "all")
    if target == "all":
        return "all", None
    kind, _sep, number = target.partition(":")
    if kind not in ("holder", "dataset") or not number.isdigit() or len(number) > 9:
        raise Invalid.field("target", _("Vælg en dataholder eller et datasæt."))
    return kind, int(number)


@bp.get("/consent")
@citizen_required
def consent_page() -> str:
    """The citizen's consent page: per purpose what is allowed now, opt-out and receipts."""
    principal = current_principal()
    overview = services.consent_overview(get_session(), actor=principal,
                                         subject_citizen_id=_subject_id())
    masked = (None if overview.acting_for_child else
              identity_services.masked_cpr(overview.citizen, keyring=current_keyring()))
    return render_template("consent/consent.html", overview=overview, masked_cpr=masked,
                           notice_version=services.notice_version(get_session()),
                           lang=current_language(),
                           saved=session.pop(SAVED, None), saved_id=SAVED_ID)


def _after_form(anchor: str = "") -> WerkzeugResponse:
    return redirect(url_for("consent.consent_page") + anchor, code=303)


def _saved(section: str, message: str) -> WerkzeugResponse:
    """Back to the consent page with the confirmation inside the section just saved, where
    the reader's eyes are, rather than at the top of a page scrolled past it."""
    session[SAVED] = {"section": section, "message": message}
    return _after_form(f"#{SAVED_ID}")


@bp.post("/consent/choices")
@citizen_required
def consent_choice_form() -> WerkzeugResponse:
    """Save a choice from the consent page."""
    db = get_session()
    purpose = request.form.get("purpose", "")
    try:
        scope_type, scope_id = _form_target()
        choice = ConsentChoice.model_validate({
            "scope": {"type": scope_type, "id": scope_id}, "purpose": purpose,
            "decision": request.form.get("decision", "")})
        services.set_consent(db, actor=current_principal(), subject_citizen_id=_subject_id(),
                             choice=choice, channel="web")
    except (Invalid, ValidationError) as error:
        db.rollback()
        flash(_("Valget blev ikke gemt: {reason}", reason=_invalid_reason(error)), "error")
        return _after_form()
    db.commit()
    label = services.get_purpose(purpose)
    return _saved(f"purpose-{purpose}", _("Dit valg for {purpose} er gemt.",
                                           purpose=label.label(current_language()).lower())
                  if label else _("Dit valg er gemt."))


def _invalid_reason(error: Invalid | ValidationError) -> str:
    fields = ({e["field"] for e in error.errors or []} if isinstance(error, Invalid) else
              {".".join(str(part) for part in e["loc"]) for e in error.errors()})
    if "purpose" in fields:
        return _("ukendt eller forbudt formål.")
    if fields & {"scope.id", "scope.type", "target"}:
        return _("vælg en dataholder eller et datasæt fra listen.")
    return _("vælg tillad, afvis eller fjern.")


@bp.post("/consent/opt-out")
@citizen_required
def opt_out_form() -> WerkzeugResponse:
    """Opt out of, or back into, secondary use from the consent page."""
    action = request.form.get("action")
    if action not in ("opt_out", "withdraw"):
        flash(_("Ukendt handling."), "error")
        return _after_form()
    db = get_session()
    services.set_opt_out(db, actor=current_principal(), opted_out=action == "opt_out",
                         subject_citizen_id=_subject_id(), channel="web")
    db.commit()
    return _saved("opt-out", _("Du har fravalgt al sekundær brug af sundhedsdata.")
                  if action == "opt_out" else
                  _("Dit fravalg er fortrudt. Dine valg for de enkelte formål gælder igen."))


@bp.post("/consent/acting-for")
@citizen_required
def acting_for_form() -> WerkzeugResponse:
    """Switch between managing one's own consent and a child's."""
    try:
        child_id = _form_int("citizen_id")
    except Invalid:
        child_id = -1  # never a citizen id: require_subject refuses it
    subject = services.require_subject(get_session(), actor=current_principal(),
                                       subject_citizen_id=child_id, now=utcnow())
    _remember_subject(subject.id)
    return _after_form()


@bp.get("/consent/history")
@citizen_required
def history_page() -> str:
    """Every consent event, oldest first."""
    history = services.consent_history(get_session(), actor=current_principal(),
                                       subject_citizen_id=_subject_id())
    purposes = {p.code: p for p in services.list_purposes()}
    return render_template("consent/history.html", history=history, purposes=purposes,
                           lang=current_language())


def _receipt_document(*, printable: bool, asked: str | None = None
                      ) -> tuple[str, documents.DocumentFacts]:
    """The readable consent receipt as one HTML document: its page, and (printable) the
    source of its PDF."""
    receipt = services.consent_receipt(
        get_session(), actor=current_principal(), keyring=current_keyring(),
        notice_url=url_for("consent.consent_page", _external=True),
        subject_citizen_id=_subject_id())
    child = receipt.overview.acting_for_child
    source = (_("Sundhedsdatamarkedspladsens samtykkeregister: de valg, der er registreret for "
                "dit barn") if child else
              _("Sundhedsdatamarkedspladsens samtykkeregister: de valg, du har registreret"))
    facts = documents.checking(documents.DocumentFacts(
        kind=_("Kvittering for samtykke"), source=source,
        generated_at=receipt.facts.generated_at,
        content=receipts.receipt_content(receipt.facts),
        verify_url=url_for("consent.receipt_page", _external=True)), asked)
    html = render_template(
        "consent/receipt.html", overview=receipt.overview, facts=receipt.facts, document=facts,
        printable=printable, print_css=documents.print_css("consent.css") if printable else "",
        lang=current_language())
    return html, facts


@bp.get("/consent/receipt")
@citizen_required
def receipt_page() -> tuple[str, int]:
    """The readable, printable receipt; `?sha256=` checks a printed receipt's hash."""
    html, facts = _receipt_document(printable=False, asked=request.args.get("sha256"))
    return html, facts.status


@bp.get("/consent/receipt.pdf")
@citizen_required
def receipt_pdf() -> Response:
    """The readable receipt as a tagged PDF, the same document as its page."""
    html, facts = _receipt_document(printable=True)
    return documents.pdf_response(html, facts, filename="samtykke-kvittering.pdf")


# What left the secure processing environment (a higher domain), handed in by create_app.
RELEASED_RESULTS = "marketplace.released_results"


@bp.get("/my-data-uses")
@citizen_required
def data_uses_page() -> str:
    """Who used my data: every extract that contained the citizen's records."""
    db = get_session()
    uses = services.list_data_uses(db, actor=current_principal(),
                                   subject_citizen_id=_subject_id())
    released = current_app.extensions[RELEASED_RESULTS](
        db, permit_ids=sorted({use.permit_id for use in uses if use.workspace_job_id}))
    return render_template("consent/data_uses.html", uses=uses, released=released,
                           acting_for_child=_subject_id() is not None, lang=current_language())
