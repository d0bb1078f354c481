"""Health-data marketplace for Greater Copenhagen."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask_openapi3 import OpenAPI

DOMAINS = ("identity", "catalog", "consent", "access", "delivery", "testbeds", "workspace",
           "statistics")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, keys, database, policies, security and every blueprint."""
    from marketplace import db, errors
    from marketplace.access import decisions
    from marketplace.config import load_config
    from marketplace.identity import auth, oauth
    from marketplace.identity.views import init_oidc
    from marketplace.security import Keyring, decode_master_key, install_log_redaction
    from marketplace.web import api, i18n, protection
    from marketplace.web import views as web_views

    app = OpenAPI(
        __name__,
        instance_path=os.environ.get("MARKETPLACE_INSTANCE_PATH") or None,
        template_folder="web/templates",
        static_folder="web/static",
        info={"title": "Greater Copenhagen health-data marketplace", "version": "2"},
        security_schemes=api.SECURITY_SCHEMES,
        validation_error_status="422",
        validation_error_model=api.Problem,
        validation_error_callback=api.validation_problem,
        doc_ui=False,  # /api/openapi.json and /api/docs are served by web.views (strict CSP)
    )
    load_config(app, config)
    if app.config["ENV"] == "production":
        # Behind the TLS proxy: external URLs (the OIDC callback) and HSTS need the real scheme.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    install_log_redaction()
    app.extensions["marketplace.keyring"] = Keyring(decode_master_key(app.config["MASTER_KEY"]))
    # Policies fail closed: a bundle that does not validate stops start-up here.
    app.extensions["marketplace.policies"] = decisions.load_policy_bundle(
        Path(app.config["POLICIES_DIR"])
    )
    db.init_app(app)
    i18n.init_app(app)
    app.before_request(auth.load_principal)
    protection.init_app(app)
    app.before_request(protection.apply_body_limit)
    app.before_request(protection.check_csrf)
    errors.register_error_handlers(app)
    oauth.init_app(app)
    init_oidc(app)
    web_views.init_app(app)
    app.register_blueprint(web_views.bp)
    for domain in DOMAINS:
        module = importlib.import_module(f"marketplace.{domain}.views")
        if hasattr(module, "api"):  # the typed JSON API (documented in /api/openapi.json)
            app.register_api(module.api)
        if hasattr(module, "bp"):  # pages and non-JSON endpoints
            app.register_blueprint(module.bp)
    return app
