"""The OAuth2 token endpoint for API clients (client credentials), built on authlib's server."""

from __future__ import annotations

import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from flask import Flask

from marketplace.db import get_session
from marketplace.identity import services
from marketplace.identity.models import SCOPES, ApiClient
from marketplace.security import current_keyring


class OAuthClient(ClientMixin):
    """authlib's view of one of our API clients."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return self.client.scopes
        return " ".join(s for s in scope.split() if s in self.client.scope_list)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return services.check_client_secret(self.client, keyring=current_keyring(),
                                            secret=client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_requested_scope(self) -> None:
        """Refuse scopes the server does not know and scopes the client was not granted."""
        super().validate_requested_scope()
        requested = set((self.request.payload.scope or "").split())
        if requested - set(self.request.client.client.scope_list):
            raise InvalidScopeError("the client was not granted every requested scope")


def _query_client(client_id: str) -> OAuthClient | None:
    client = services.get_api_client(get_session(), client_id=client_id)
    return OAuthClient(client) if client else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    services.store_token(get_session(), client=request.client.client,
                         access_token=token["access_token"], scopes=token.get("scope", ""),
                         expires_in=int(token["expires_in"]))


def init_app(app: Flask) -> AuthorizationServer:
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "client_credentials": int(app.config["TOKEN_LIFETIME_SECONDS"])
    }
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = lambda **_: "mkt." + secrets.token_urlsafe(32)
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.scopes_supported = list(SCOPES)
    server.register_grant(ClientCredentialsGrant)
    app.extensions["marketplace.oauth_server"] = server
    return server
