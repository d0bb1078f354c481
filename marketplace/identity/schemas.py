"""What the identity API reads and answers: the token request and the caller's description."""
from __future__ import annotations

from typing import Literal

from flask_openapi3 import RawModel

from marketplace.web.api import Out


class TokenRequest(RawModel):
    """OAuth 2.0 client credentials: `grant_type=client_credentials`, optional `scope`; the
    client authenticates with HTTP Basic or with `client_id` and `client_secret` in the form."""

    mimetypes: list[str] = ["application/x-www-form-urlencoded"]  # noqa: RUF012


class TokenOut(Out):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class MeOut(Out):
    """The signed-in caller; `csrf_token` is for session JSON calls that change state."""

    kind: Literal["citizen", "staff", "client"]
    role: str | None
    name: str
    org: str | None
    scopes: list[str]
    cpr_masked: str | None = None
    csrf_token: str | None = None
