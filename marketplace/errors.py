"""Domain errors and the ONE place that turns them into HTTP responses.

API callers get RFC 9457 `application/problem+json`; people in a browser get a friendly page in
their language. Services raise these; views never build error responses by hand.

A service does not know the caller's language: it raises its detail as Danish source text with
{named} values (`NotFound("tilladelse {id} findes ikke", id=7)`), and the response translates
it, with the title and the field messages, into the request's language.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from marketplace.languages import N_
from marketplace.web.i18n import gettext as _

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://marketplace.regionh.dk/problems/"


class DomainError(Exception):
    status = 400
    title = N_("Ugyldig forespørgsel")
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> None:
        filled = detail.format(**values) if values else detail
        super().__init__(filled)
        self.detail = filled
        self.template = detail
        self.values = values
        self.errors = errors
        self.headers = headers or {}
        if title:
            self.title = title

    def to_problem(self) -> dict[str, Any]:
        """The problem+json body, in the request's language."""
        problem: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": _(self.title),
            "status": self.status,
            "detail": self.translated_detail(),
        }
        if self.errors:
            problem["errors"] = self.translated_errors()
        return problem

    def translated_errors(self) -> list[dict[str, str]]:
        """The field errors in the request's language (a message that is the detail itself
        carries the detail's values)."""
        detail = self.translated_detail()
        return [self._translated_item(item, detail) for item in self.errors or []]

    def _translated_item(self, item: dict[str, Any], detail: str) -> dict[str, Any]:
        # An item may keep its Danish template and values, so that its message translates whole.
        shown = {key: value for key, value in item.items() if key not in ("template", "values")}
        if item["message"] == self.detail:
            shown["message"] = detail
        elif item.get("template"):
            shown["message"] = _(item["template"], **(item.get("values") or {}))
        else:
            shown["message"] = _(item["message"])
        return shown

    def translated_detail(self) -> str:
        try:
            return _(self.template, **self.values)
        except (KeyError, IndexError, ValueError):
            return self.detail


class BadRequest(DomainError):
    status, title, slug = 400, N_("Ugyldig forespørgsel"), "bad-request"


class Unauthorized(DomainError):
    status, title, slug = 401, N_("Ikke logget ind"), "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, N_("Ingen adgang"), "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, N_("Ikke fundet"), "not-found"


class Conflict(DomainError):
    status, title, slug = 409, N_("Konflikt"), "conflict"


class TooLarge(DomainError):
    status, title, slug = 413, N_("Indholdet er for stort"), "too-large"


class Invalid(DomainError):
    status, title, slug = 422, N_("Ugyldigt input"), "invalid"

    @classmethod
    def field(cls, field: str, message: str, **values: Any) -> Invalid:
        """Build an Invalid error about one named field (`message`: Danish source text)."""
        error = cls(message, **values)
        error.errors = [{"field": field, "message": error.detail}]
        # Logs and tracebacks name the field; people read the message beside it.
        error.args = (f"{field}: {error.detail}",)
        return error


def wants_json() -> bool:
    """Tell whether the caller is a program (API path or JSON request) rather than a browser."""
    path = request.path
    if path.startswith(("/api/", "/oauth/", "/.well-known/")) or path.endswith((".ttl", ".jsonld")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def problem_response(error: DomainError) -> Response:
    if wants_json():
        response = jsonify(error.to_problem())
        response.mimetype = "application/problem+json"
    else:
        response = Response(
            render_template("error.html", error=error, problem=error.to_problem()),
            mimetype="text/html")
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


# What the framework's own refusals say (its texts are English and not ours to translate).
_HTTP_DETAILS = {
    400: N_("Forespørgslen kunne ikke forstås."),
    401: N_("Du skal logge ind for at se dette."),
    403: N_("Du har ikke adgang til dette."),
    404: N_("Siden eller ressourcen findes ikke."),
    405: N_("Adressen tager ikke imod denne slags forespørgsel."),
    409: N_("Handlingen passer ikke med den nuværende tilstand."),
    413: N_("Indholdet er for stort."),
    422: N_("Oplysningerne er ikke gyldige."),
    429: N_("For mange forespørgsler. Vent lidt, og prøv igen."),
}

_HTTP_TO_DOMAIN: dict[int, type[DomainError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: Invalid,
}


def register_error_handlers(app: Flask) -> None:
    """Route domain errors and HTTP errors through one problem/page renderer."""

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return problem_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        code = error.code or 500
        domain_cls = _HTTP_TO_DOMAIN.get(code)
        # A description given where the error was raised is ours; the framework's default is not.
        own = error.description if error.description != type(error).description else None
        detail = own or _HTTP_DETAILS.get(code) or error.name
        if domain_cls is None:
            domain = DomainError(detail)
            domain.status, domain.title = code, error.name
            domain.slug = error.name.lower().replace(" ", "-")
        else:
            domain = domain_cls(detail)
        response = problem_response(domain)
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        domain = DomainError(N_("Der opstod en uventet fejl. Den er skrevet i loggen."))
        domain.status, domain.title, domain.slug = 500, N_("Intern fejl"), "internal"
        return problem_response(domain)
