"""Request authentication for views: sessions for people, bearer tokens for systems.

The principal is resolved once per request (see `load_principal`) and read with
`current_principal()`. Decorators here only check *who* is calling; what they may do with a
particular object is decided in the services.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy.exc import OperationalError

from marketplace.db import get_session, utcnow
from marketplace.errors import Forbidden, Unauthorized, wants_json
from marketplace.identity import services, sessions
from marketplace.identity.principal import ANONYMOUS, Principal

F = TypeVar("F", bound=Callable[..., Any])

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="marketplace"'}


def current_principal() -> Principal:
    return g.get("principal", ANONYMOUS)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("brug 'Authorization: Bearer <token>'", headers=_BEARER_CHALLENGE)
    return token.strip()


def load_principal() -> None:
    """Resolve the caller from a bearer token or the signed-in session (before each request)."""
    if request.path == "/oauth/token":  # clients authenticate there with their secret
        g.principal, g.auth_kind = ANONYMOUS, "client-secret"
        return
    if request.endpoint == "static":  # assets are public: no database work, no idle-clock write
        g.principal, g.auth_kind = ANONYMOUS, "none"
        return
    token = bearer_token()
    db = get_session()
    if token is not None:
        g.principal = services.authenticate_token(db, access_token=token, now=utcnow())
        g.auth_kind = "bearer"
        return
    g.auth_kind = "session" if session.get("sid") else "none"
    if not session.get("sid"):
        g.principal = ANONYMOUS
        return
    idle = current_app.config["PERMANENT_SESSION_LIFETIME"]
    g.principal = sessions.principal_for_session(db, session, idle=idle)
    if db.dirty:
        try:
            db.commit()  # the idle clock of the sign-in moved on
        except OperationalError:
            # A reading request lost SQLite's write lock to a writer; the clock is best effort
            # and moves on at the next request.
            db.rollback()


def _login_redirect() -> Any:
    return redirect(url_for("identity.login") + "?" + urlencode({"next": request.full_path}))


def api_auth(scope: str | None = None) -> Callable[[F], F]:
    """Require an authenticated caller, holding `scope` when one is named."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not principal.is_authenticated:
                raise Unauthorized("log ind, eller send et adgangstoken "
                                   "(Bearer)", headers=_BEARER_CHALLENGE)
            if scope and not principal.has_scope(scope):
                raise Forbidden("kaldet kræver adgangsområdet {scope}", scope=scope)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def citizen_required(view: F) -> F:
    """Require a signed-in citizen (401 for programs, sign-in redirect for browsers)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        if principal.kind != "citizen":
            if principal.is_authenticated:
                raise Forbidden("dette er for borgere")
            if wants_json():
                raise Unauthorized("log ind som borger")
            return _login_redirect()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def login_required(kinds: tuple[str, ...] = ("citizen", "staff")) -> Callable[[F], F]:
    """Require a signed-in person of one of `kinds` for an HTML page."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not principal.is_authenticated:
                if wants_json():
                    raise Unauthorized("log ind først")
                return _login_redirect()
            if principal.kind not in kinds:
                raise Forbidden("siden er ikke for din type konto")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
