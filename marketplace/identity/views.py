"""Sign-in (OIDC authorization code + PKCE), sign-out, the token endpoint and /api/v1/me."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_openapi3 import APIBlueprint, Tag
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response as WerkzeugResponse

from marketplace.db import get_session
from marketplace.errors import Unauthorized
from marketplace.identity import services, sessions
from marketplace.identity.auth import api_auth, current_principal
from marketplace.identity.schemas import MeOut, TokenOut, TokenRequest
from marketplace.security import current_keyring
from marketplace.web.api import PUBLIC, requires, responses

api = APIBlueprint("identity_api", __name__, abp_tags=[Tag(name="identity")])
bp = Blueprint("identity", __name__)
log = logging.getLogger(__name__)


def init_oidc(app: Flask) -> None:
    """Register the OIDC provider (the MitID broker in production) with authlib's client.

    One OAuth registry per app: authlib caches clients per registry, and two apps in one
    process (tests, several issuers) must not share a provider.
    """
    oauth = OAuth(app)
    app.extensions["marketplace.oidc"] = oauth
    issuer = app.config["OIDC_ISSUER"].rstrip("/")
    oauth.register(
        "mitid",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": app.config["OIDC_SCOPES"], "code_challenge_method": "S256"},
        overwrite=True,
    )


def _safe_next(target: str | None) -> str:
    """Only follow same-site relative paths after sign-in (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    # Browsers read a backslash as a slash, so "/\\host" would leave the site too.
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 0x20 for c in target)):
        return "/"
    return target


def _client() -> Any:
    return current_app.extensions["marketplace.oidc"].create_client("mitid")


@bp.get("/auth/login")
def login() -> Response:
    """Start sign-in at the OIDC provider."""
    session["next"] = _safe_next(request.args.get("next"))
    redirect_uri = url_for("identity.callback", _external=True)
    return _client().authorize_redirect(redirect_uri)


@bp.get("/auth/callback")
def callback() -> WerkzeugResponse:
    """Finish sign-in: check state, nonce and PKCE, then recognise the citizen or staff member."""
    try:
        token = _client().authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        claims.update(_client().userinfo(token=token))
    except AuthlibBaseError as exc:
        log.warning("sign-in failed at the provider step: %s", exc.error)
        raise Unauthorized("login kunne ikke gennemføres; prøv igen") from exc
    db = get_session()
    next_path = session.pop("next", "/")
    sign_in = sessions.complete_sign_in(
        db, keyring=current_keyring(), claims=claims,
        cpr_claim_name=current_app.config["OIDC_CPR_CLAIM"],
        children_claim_name=current_app.config["OIDC_CHILDREN_CLAIM"],
        on_citizen=current_app.extensions.get(sessions.CITIZEN_SIGN_IN_HOOKS, ()),
    )
    db.commit()
    default_next = "/consent" if sign_in.kind == "citizen" else "/"
    session.clear()
    session.permanent = True
    session["sid"] = sign_in.id
    return redirect(next_path if next_path != "/" else default_next)


@bp.post("/auth/logout")
def logout() -> WerkzeugResponse:
    """End the sign-in here; a copied cookie stops working too."""
    db = get_session()
    sessions.end_sign_in(db, sid=session.get("sid"))
    db.commit()
    session.clear()
    return redirect(url_for("web.home"))


@api.post("/oauth/token", responses=responses(200, TokenOut, 400, 401, 403), security=PUBLIC)
def issue_token(raw: TokenRequest) -> Response:
    """Issue an access token to an API client (grant client_credentials)."""
    response = current_app.extensions["marketplace.oauth_server"].create_token_response()
    if response.status_code >= 400:
        body = response.get_json(silent=True) or {}
        error = body.get("error", "invalid_request")
        status = {"invalid_client": 401, "invalid_scope": 403}.get(error, response.status_code)
        problem = {
            "type": f"https://marketplace.regionh.dk/problems/oauth-{error}",
            "title": error.replace("_", " ").capitalize(),
            "status": status,
            "detail": body.get("error_description") or _OAUTH_DETAILS.get(error, error),
            "error": error,
        }
        failed = jsonify(problem)
        failed.status_code = status
        failed.mimetype = "application/problem+json"
        failed.headers["Cache-Control"] = "no-store"
        if status == 401:
            failed.headers["WWW-Authenticate"] = 'Basic realm="marketplace"'
        return failed
    get_session().commit()
    return response


_OAUTH_DETAILS = {
    "invalid_client": "unknown client or wrong secret",
    "invalid_scope": "a requested scope is unknown or not granted to this client",
    "unsupported_grant_type": "only grant_type=client_credentials is supported",
    "invalid_request": "the token request is malformed",
}


@api.get("/api/v1/me", responses=responses(200, MeOut, 401), security=requires())
@api_auth()
def me() -> Response:
    """Describe the signed-in caller, with the CSRF token for session JSON calls."""
    principal = current_principal()
    body: dict[str, Any] = {
        "kind": principal.kind,
        "role": "citizen" if principal.kind == "citizen" else principal.role,
        "name": principal.name,
        "org": principal.org_slug,
        "scopes": sorted(principal.scopes),
    }
    if principal.kind == "citizen":
        citizen = services.require_citizen(get_session(), citizen_id=principal.citizen_id or 0)
        body["cpr_masked"] = services.masked_cpr(citizen, keyring=current_keyring())
    if principal.kind != "client":
        body["csrf_token"] = generate_csrf()
    return jsonify(body)
