"""The home page for each role, the navigation, and the generated OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask_openapi3_swagger
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    send_from_directory,
    session,
)

from marketplace.admin.events import EVENT_LABELS
from marketplace.catalog import purposes
from marketplace.catalog import vocabulary as voc
from marketplace.consent.views import ACTING_FOR
from marketplace.identity.auth import current_principal
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

bp = Blueprint("web", __name__)

SWAGGER_UI_ASSETS = Path(flask_openapi3_swagger.__file__).resolve().parent / "templates" / "swagger"


@dataclass(frozen=True)
class Link:
    href: str
    label: str


# (path, Danish label, who sees it); the label is translated when the page is drawn. The
# operator runs the platform from the console and acts in no other role, so sees only that.
_NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/catalog", "Datakatalog", frozenset({"*"})),
    ("/catalog/mine", "Mine datasæt", frozenset({"holder_admin"})),
    ("/consent", "Mit samtykke", frozenset({"citizen"})),
    ("/consent/history", "Historik", frozenset({"citizen"})),
    ("/my-data-uses", "Hvem brugte mine data", frozenset({"citizen"})),
    ("/requests", N_("Ansøgninger"), frozenset({"company_member", "holder_admin", "reviewer"})),
    ("/extracts", "Udtræk", frozenset({"company_member"})),
    ("/workspace", "Analysemiljø", frozenset({"company_member"})),
    ("/statistics", "Anonym statistik",
     frozenset({"company_member", "holder_admin", "secretariat"})),
    ("/reviews", N_("Sagsbehandling"), frozenset({"holder_admin", "reviewer"})),
    ("/output-reviews", N_("Outputkontrol"), frozenset({"output_checker"})),
    ("/statistics-reviews", N_("Statistik til vurdering"), frozenset({"holder_admin", "reviewer"})),
    ("/test-environments", "Testmiljøer", frozenset({"*"})),
    ("/matches", "Find testmiljø", frozenset({"company_member"})),
    ("/test-courses", "Testforløb",
     frozenset({"company_member", "host_member", "holder_admin"})),
    ("/opportunities", "Vækstpipeline",
     frozenset({"secretariat", "steering_group", "company_member", "holder_admin",
                "host_member"})),
    ("/admin", N_("Driftskonsol"), frozenset({"operator"})),
    ("/register", N_("Register"), frozenset({"*"})),
    ("/kpis", "Nøgletal", frozenset({"*"})),
)

_ROLE_INTRO = {
    "citizen": N_("Her styrer du, hvad dine sundhedsdata må bruges til, og ser hvem der har "
               "brugt dem."),
    "holder_admin": N_("Her udgiver din organisation datasæt, holder kvaliteten øje og behandler "
                    "ansøgninger om adgang."),
    "reviewer": N_("Her behandler du ansøgninger om adgang til din organisations datasæt."),
    "output_checker": N_("Her kontrollerer du resultater fra det sikre analysemiljø, før de må "
                      "forlade platformen."),
    "company_member": N_("Her søger din virksomhed adgang til data, finder testmiljøer og følger "
                      "jeres testforløb hele vejen til indkøb."),
    "host_member": N_("Her vedligeholder I jeres testmiljø og tager stilling til forslag om "
                   "testforløb."),
    "secretariat": N_("Her registrerer og screener du vækstmuligheder, indstiller dem til "
                   "styregruppen og følger dem hele vejen til indkøb."),
    "steering_group": N_("Her træffer du beslutning ved portene i vækstpipelinen ud fra "
                      "sekretariatets indstillinger."),
    "operator": N_("Her driver du markedspladsen: organisationer og brugere, API-klienter, "
                "revisionssporet, jobkøerne og samtykketeksten."),
}

DEMO_USERS = (
    ("citizen-demo", N_("Borger"), "—"),
    ("reviewer-herlev", N_("Sagsbehandler"), "Herlev Hospital"),
    ("admin-albertslund", N_("Dataansvarlig administrator"), "Albertslund Kommune"),
    ("company-pulmo", N_("Virksomhedsmedarbejder"), "Pulmo Monitor ApS"),
    ("admin-sds", N_("Dataansvarlig administrator"), "Sundhedsdatastyrelsen"),
    ("reviewer-rigs", N_("Sagsbehandler"), "Rigshospitalet"),
    ("checker-herlev", N_("Outputkontrollant"), "Herlev og Gentofte Hospital"),
    ("checker-herlev-2", N_("Outputkontrollant"), "Herlev og Gentofte Hospital"),
    ("host-cames", N_("Testmiljø-vært"), "CAMES"),
    ("host-iderige", N_("Testmiljø-vært"), "Idériget"),
    ("host-vihtek", N_("Testmiljø-vært"), "VihTek"),
    ("secretariat-chc", N_("Klyngesekretariat"), "Copenhagen Healthtech Cluster"),
    ("steering-chc", N_("Styregruppe"), "Copenhagen Healthtech Cluster"),
    ("company-carebridge", N_("Virksomhedsmedarbejder"), "CareBridge GmbH"),
    ("operator", N_("Operatør"), N_("Platformens operatør")),
)


def _audience(principal: Principal) -> str:
    return "citizen" if principal.kind == "citizen" else (principal.role or principal.kind)


# A parent acting for a child reads about the child's data, not their own.
_FOR_CHILD = {"/my-data-uses": "Hvem brugte mit barns data"}


def nav_links() -> list[Link]:
    audience = _audience(current_principal())
    labels = _FOR_CHILD if audience == "citizen" and session.get(ACTING_FOR) else {}
    return [Link(href, _(labels.get(href, label))) for href, label, who in _NAV
            if "*" in who or audience in who]


@bp.get("/")
def home() -> str:
    principal = current_principal()
    audience = _audience(principal)
    demo = []
    if current_app.config["ENV"] != "production":
        demo = [{"sub": s, "role_label": r, "org": o} for s, r, o in DEMO_USERS]
    home_links = [link for link in nav_links() if link.href not in ("/register", "/kpis")]
    return render_template(
        "web/home.html", demo_users=demo, role_intro=_ROLE_INTRO.get(audience, ""),
        home_links=home_links,
    )


@bp.get("/api/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of the API, generated from the models that validate it."""
    return jsonify(build_openapi(current_app))


@bp.get("/api/docs")
def api_docs() -> str:
    """The API reference, drawn by Swagger UI from /api/openapi.json (assets served here)."""
    return render_template("web/api_docs.html")


@bp.get("/api/docs/assets/<path:filename>")
def api_docs_asset(filename: str) -> Response:
    """Swagger UI's own files, from the installed package: no third-party host, strict CSP."""
    response = send_from_directory(SWAGGER_UI_ASSETS, filename, max_age=86_400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def build_openapi(app: Flask) -> dict[str, Any]:
    """Take flask-openapi3's document and state what it cannot know: scopes and problem bodies."""
    from copy import deepcopy

    from marketplace.identity.models import SCOPE_LABELS

    spec = deepcopy(app.api_doc)  # type: ignore[attr-defined]
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["oauth2"]["flows"]["clientCredentials"]["scopes"] = dict(SCOPE_LABELS)
    problem = {"$ref": "#/components/schemas/Problem"}
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            answers = operation.setdefault("responses", {})
            invalid = answers.get("422")
            if invalid is not None and "application/problem+json" not in invalid.get("content", {}):
                answers["422"] = {"description": "Invalid input; `errors` names each field",
                                  "content": {"application/problem+json": {"schema": problem}}}
    return spec


_ERROR_HEADINGS = {
    400: N_("Forespørgslen kunne ikke forstås"),
    401: N_("Du skal logge ind"),
    403: N_("Du har ikke adgang"),
    404: N_("Siden findes ikke"),
    409: N_("Handlingen passer ikke med den nuværende tilstand"),
    413: N_("Indholdet er for stort"),
    422: N_("Oplysningerne er ikke gyldige"),
}
_TRY_AGAIN = N_("Prøv igen om lidt.")
_ERROR_EXPLANATIONS = {
    401: N_("Log ind og prøv igen."),
    403: N_("Din konto må ikke se eller ændre dette. Intet er ændret."),
    404: N_("Tjek adressen, eller gå tilbage til forsiden."),
    413: N_("Send en mindre fil eller en kortere tekst. Intet er gemt."),
    422: N_("Ret de markerede felter og prøv igen. Intet er gemt."),
}




def audit_action_label(action: str) -> str:
    """The audit event in words; an event without a label keeps its name, readable."""
    label = EVENT_LABELS.get(action)
    return _(label) if label else action.replace("_", " ").replace(".", ": ")


CHECK_RULES = {
    "acro": N_("Kontrol med ACRO"), "cell_threshold": N_("Mindste antal personer pr. celle"),
    "cpr": N_("CPR-numre"), "dominance": N_("Dominerende bidrag"),
    "file_size": N_("Filstørrelse"), "file_type": N_("Filtype"),
    "record_level": N_("Data på personniveau"),
}


def code_label(table: dict[str, str], code: str | None) -> str:
    """A code's words from `table` in the page's language; an unknown code stays as it is."""
    if not code:
        return ""
    label = table.get(code)
    return _(label) if label else code


def duo_label(term: str) -> str:
    """A DUO permission or modifier ("TS:12") in words, with its code for those who know it."""
    code, _sep, argument = term.partition(":")
    label = voc.DUO_LABELS.get(code)
    if label is None:
        return term
    return f"{_(label)}{': ' + argument if argument else ''} ({code})"


def generalisation_label(rule: dict[str, Any] | None) -> str:
    """A column's generalisation rule in words: "alder i grupper på 10 år"."""
    if not rule:
        return ""
    kind = rule.get("kind", "")
    label = voc.GENERALISATION_LABELS.get(f"{kind}:{rule.get('to')}",
                                          voc.GENERALISATION_LABELS.get(kind))
    if label is None:
        return " ".join(str(value) for value in rule.values())
    try:
        return _(label, **{k: v for k, v in rule.items() if k not in ("kind", "to")})
    except KeyError:  # a value the rule leaves out, e.g. a shift without its maximum
        return _(label).split("{")[0].strip()


def place_name(code: str) -> str:
    """A geography code of a descriptor in words: Danmark, a region or a municipality."""
    if code == "DK":
        return _("Danmark")
    if code in voc.REGION_NAMES:
        return _(voc.REGION_NAMES[code])
    name = voc.MUNICIPALITY_NAMES.get(code)
    return _("{name} Kommune", name=name) if name else code


def purpose_name(code: str | None) -> str:
    """A purpose code from the taxonomy in the page's language."""
    purpose = purposes.load_taxonomy().get(code) if code else None
    return purpose.label(current_language()) if purpose else (code or "–")


def init_app(app: Flask) -> None:
    # Codes in words; globals, so that macros imported by templates can use them too.
    app.jinja_env.globals.update(
        audit_action_label=audit_action_label,
        check_rule_label=lambda rule: code_label(CHECK_RULES, rule),
        column_type_label=lambda code: code_label(voc.COLUMN_TYPE_LABELS, code),
        identifier_kind_label=lambda code: code_label(voc.IDENTIFIER_KIND_LABELS, code),
        code_system_label=lambda code: code_label(voc.CODE_SYSTEM_LABELS, code),
        duo_label=duo_label, generalisation_label=generalisation_label, purpose_name=purpose_name,
        place_name=place_name)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "principal": current_principal(),
            "nav_links": nav_links,
            "error_heading": lambda s: _(_ERROR_HEADINGS.get(s, "Der opstod en fejl")),
            "error_explanation": lambda s: _(_ERROR_EXPLANATIONS.get(s, _TRY_AGAIN)),
        }
