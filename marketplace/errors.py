"""Domain errors and the ONE place that turns them into HTTP responses.

API callers get RFC 9457 `application/problem+json`; people in a browser get a friendly page in
their language. Services raise these; views never build error responses by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://marketplace.regionh.dk/problems/"


class DomainError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        if title:
            self.title = title

    def to_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            problem["errors"] = self.errors
        return problem


class BadRequest(DomainError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class TooLarge(DomainError):
    status, title, slug = 413, "Content too large", "too-large"


class Invalid(DomainError):
    status, title, slug = 422, "Invalid input", "invalid"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        """Build an Invalid error about one named field."""
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


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
            render_template("error.html", error=error), mimetype="text/html"
        )
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


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
        if domain_cls is None:
            domain = DomainError(error.description or error.name)
            domain.status, domain.title = code, error.name
            domain.slug = error.name.lower().replace(" ", "-")
        else:
            domain = domain_cls(error.description or error.name)
        response = problem_response(domain)
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        domain = DomainError("An unexpected error occurred. It has been logged.")
        domain.status, domain.title, domain.slug = 500, "Internal server error", "internal"
        return problem_response(domain)
