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

from marketplace.consent.views import ACTING_FOR
from marketplace.identity.auth import current_principal
from marketplace.identity.principal import Principal
from marketplace.web.i18n import gettext as _

bp = Blueprint("web", __name__)

SWAGGER_UI_ASSETS = Path(flask_openapi3_swagger.__file__).resolve().parent / "templates" / "swagger"


@dataclass(frozen=True)
class Link:
    href: str
    label: str


# (path, Danish label, who sees it); the label is translated when the page is drawn.
_NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/catalog", "Datakatalog", frozenset({"*"})),
    ("/catalog/mine", "Mine datasæt", frozenset({"holder_admin", "operator"})),
    ("/consent", "Mit samtykke", frozenset({"citizen"})),
    ("/consent/history", "Historik", frozenset({"citizen"})),
    ("/my-data-uses", "Hvem brugte mine data", frozenset({"citizen"})),
    ("/requests", "Ansøgninger", frozenset({"company_member", "holder_admin", "reviewer",
                                           "operator"})),
    ("/extracts", "Udtræk", frozenset({"company_member", "operator"})),
    ("/workspace", "Analysemiljø", frozenset({"company_member", "operator"})),
    ("/statistics", "Anonym statistik",
     frozenset({"company_member", "holder_admin", "secretariat", "operator"})),
    ("/reviews", "Sagsbehandling", frozenset({"holder_admin", "reviewer", "operator"})),
    ("/output-reviews", "Outputkontrol", frozenset({"output_checker"})),
    ("/test-environments", "Testmiljøer", frozenset({"*"})),
    ("/matches", "Find testmiljø", frozenset({"company_member", "operator"})),
    ("/test-courses", "Testforløb",
     frozenset({"company_member", "host_member", "holder_admin", "operator"})),
    ("/opportunities", "Vækstpipeline",
     frozenset({"secretariat", "steering_group", "company_member", "holder_admin",
                "host_member", "operator"})),
    ("/register", "Register", frozenset({"*"})),
    ("/kpis", "Nøgletal", frozenset({"*"})),
)

_ROLE_INTRO = {
    "citizen": "Her styrer du, hvad dine sundhedsdata må bruges til, og ser hvem der har "
               "brugt dem.",
    "holder_admin": "Her udgiver din organisation datasæt, holder kvaliteten øje og behandler "
                    "ansøgninger om adgang.",
    "reviewer": "Her behandler du ansøgninger om adgang til din organisations datasæt.",
    "output_checker": "Her kontrollerer du resultater fra det sikre analysemiljø, før de må "
                      "forlade platformen.",
    "company_member": "Her søger din virksomhed adgang til data, finder testmiljøer og følger "
                      "jeres testforløb hele vejen til indkøb.",
    "host_member": "Her vedligeholder I jeres testmiljø og tager stilling til forslag om "
                   "testforløb.",
    "secretariat": "Her registrerer og screener du vækstmuligheder, indstiller dem til "
                   "styregruppen og følger dem hele vejen til indkøb.",
    "steering_group": "Her træffer du beslutning ved portene i vækstpipelinen ud fra "
                      "sekretariatets indstillinger.",
    "operator": "Her driver du markedspladsen: organisationer, registre og revisionsspor.",
}

DEMO_USERS = (
    ("citizen-demo", "Borger", "—"),
    ("reviewer-herlev", "Sagsbehandler", "Herlev Hospital"),
    ("admin-albertslund", "Dataansvarlig administrator", "Albertslund Kommune"),
    ("company-pulmo", "Virksomhedsmedarbejder", "Pulmo Monitor ApS"),
    ("admin-sds", "Dataansvarlig administrator", "Sundhedsdatastyrelsen"),
    ("reviewer-rigs", "Sagsbehandler", "Rigshospitalet"),
    ("checker-herlev", "Outputkontrollant", "Herlev og Gentofte Hospital"),
    ("checker-herlev-2", "Outputkontrollant", "Herlev og Gentofte Hospital"),
    ("host-cames", "Testmiljø-vært", "CAMES"),
    ("secretariat-chc", "Klyngesekretariat", "Copenhagen Healthtech Cluster"),
    ("steering-chc", "Styregruppe", "Copenhagen Healthtech Cluster"),
    ("company-carebridge", "Virksomhedsmedarbejder", "CareBridge GmbH"),
    ("operator", "Operatør", "Platform operator"),
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
    400: "Forespørgslen kunne ikke forstås",
    401: "Du skal logge ind",
    403: "Du har ikke adgang",
    404: "Siden findes ikke",
    409: "Handlingen passer ikke med den nuværende tilstand",
    413: "Indholdet er for stort",
    422: "Oplysningerne er ikke gyldige",
}
_ERROR_EXPLANATIONS = {
    401: "Log ind og prøv igen.",
    403: "Din konto må ikke se eller ændre dette. Intet er ændret.",
    404: "Tjek adressen, eller gå tilbage til forsiden.",
    413: "Send en mindre fil eller en kortere tekst. Intet er gemt.",
    422: "Ret de markerede felter og prøv igen. Intet er gemt.",
}


def init_app(app: Flask) -> None:
    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "principal": current_principal(),
            "nav_links": nav_links,
            "error_heading": lambda s: _(_ERROR_HEADINGS.get(s, "Der opstod en fejl")),
            "error_explanation": lambda s: _(_ERROR_EXPLANATIONS.get(s, "Prøv igen om lidt.")),
        }
