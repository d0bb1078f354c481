"""Cross-cutting browser protection: CSRF for session calls and security headers everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from marketplace.errors import BadRequest, Forbidden, problem_response

csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def large_body(view: F) -> F:
    """Mark a view that takes data uploads: its body may be as large as MAX_UPLOAD_BYTES.

    The app-wide limit guards forms and JSON. The mark is read before anything parses the body
    (the CSRF check reads form fields), so a multipart upload is not refused half-way.
    """
    view.accepts_large_body = True  # type: ignore[attr-defined]
    return view


def apply_body_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "accepts_large_body", False):
        # Data versions have their own limit, enforced while the body streams to disk.
        request.max_content_length = int(current_app.config["MAX_UPLOAD_BYTES"]) + (1 << 20)


def check_csrf() -> None:
    """Demand a CSRF token on state changes that ride on the browser's cookie.

    Bearer-token calls carry no ambient credentials and are exempt, as is the token endpoint
    (client authentication protects it). A form post without any session is refused too, so a
    hostile page cannot submit forms anonymously either.
    """
    if request.method not in _UNSAFE or g.get("auth_kind") in ("bearer", "client-secret"):
        return
    has_cookie = current_app.config["SESSION_COOKIE_NAME"] in request.cookies
    is_form = (request.mimetype or "") in _FORM_TYPES
    if has_cookie or is_form:
        try:
            csrf.protect()
        except (AttributeError, TypeError):
            # Flask-WTF looks up the token among the form's field names; a multipart part
            # without a name breaks that lookup. Such a body is malformed, not a server error.
            raise BadRequest("formularen er forkert opbygget: hver del skal have et navn") from None


def security_headers(response: Response) -> Response:
    issuer = current_app.config["OIDC_ISSUER"].rstrip("/")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        f"form-action 'self' {issuer}",
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # Signed-in pages show personal data (a citizen's choices, masked CPR): never cache them.
    if request.path.startswith(("/api/", "/oauth/")) or g.get("auth_kind") in ("session",
                                                                               "bearer"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error: CSRFError) -> Response:
        return problem_response(Forbidden("formularens sikkerhedsfelt (CSRF) er ugyldigt eller "
                                          "udløbet; indlæs siden igen og prøv igen"))

    app.after_request(security_headers)
