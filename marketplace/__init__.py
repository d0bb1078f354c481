"""Health-data marketplace for Greater Copenhagen."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask_openapi3 import Info, OpenAPI

DOMAINS = ("identity", "notifications", "catalog", "consent", "access", "delivery", "testbeds",
           "workspace", "statistics", "growth")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, keys, database, policies, security and every blueprint."""
    from marketplace import audit, composition, db, errors, ops
    from marketplace.access import decisions
    from marketplace.config import load_config
    from marketplace.identity import auth, oauth, throttle
    from marketplace.identity.views import init_oidc
    from marketplace.security import Keyring, decode_master_key
    from marketplace.web import api, i18n, protection, requests
    from marketplace.web import views as web_views

    app = OpenAPI(
        __name__,
        instance_path=os.environ.get("MARKETPLACE_INSTANCE_PATH") or None,
        template_folder="web/templates",
        static_folder="web/static",
        info=Info(title="Greater Copenhagen health-data marketplace", version="2"),
        security_schemes=api.SECURITY_SCHEMES,
        validation_error_status="422",
        validation_error_model=api.Problem,
        validation_error_callback=api.validation_problem,
        doc_ui=False,  # /api/openapi.json and /api/docs are served by web.views (strict CSP)
    )
    app.request_class = requests.SpoolingRequest
    load_config(app, config)
    if app.config["ENV"] == "production":
        # Behind the TLS proxy: external URLs (the OIDC callback) and HSTS need the real scheme.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    # Request ids, JSON logs (CPR redacted) and request metrics come first: every later hook's
    # log line carries the id and the measured time covers authentication too.
    ops.init_app(app)
    app.extensions["marketplace.keyring"] = Keyring(decode_master_key(app.config["MASTER_KEY"]))
    # Policies fail closed: a bundle that does not validate stops start-up here.
    app.extensions["marketplace.policies"] = decisions.load_policy_bundle(
        Path(app.config["POLICIES_DIR"])
    )
    app.extensions["marketplace.released_results"] = composition.released_results
    app.extensions["marketplace.reminders"] = composition.reminders()
    app.extensions["marketplace.access_engine"] = composition.access_engine(
        policies=app.extensions["marketplace.policies"],
        keyring=app.extensions["marketplace.keyring"], data_dir=Path(app.config["DATA_DIR"]))
    db.init_app(app)
    # A process killed mid-upload or mid-job left files behind: remove them before serving.
    composition.remove_leftovers(app.extensions["marketplace.sessionmaker"],
                                 data_dir=Path(app.config["DATA_DIR"]))
    # Every session can append to and verify the audit chain with the chain's key.
    app.extensions["marketplace.sessionmaker"].configure(
        info={audit.AUDIT_KEY: app.extensions["marketplace.keyring"].audit_key})
    i18n.init_app(app)
    app.before_request(ops.unless_probe(auth.load_principal))
    protection.init_app(app)
    app.before_request(protection.apply_body_limit)
    app.before_request(protection.check_csrf)
    app.before_request(requests.parse_json_body)
    errors.register_error_handlers(app)
    oauth.init_app(app)
    throttle.init_app(app)
    init_oidc(app)
    web_views.init_app(app)
    app.register_blueprint(web_views.bp)
    for domain in DOMAINS:
        module = importlib.import_module(f"marketplace.{domain}.views")
        if hasattr(module, "api"):  # the typed JSON API (documented in /api/openapi.json)
            app.register_api(module.api)
        if hasattr(module, "bp"):  # pages and non-JSON endpoints
            app.register_blueprint(module.bp)
    from marketplace.workspace import release_views  # output checking has its own module

    app.register_api(release_views.release_api)
    app.register_blueprint(release_views.release_pages)
    from marketplace.statistics import holder_views  # the holders' side of statistics

    app.register_api(holder_views.holder_api)
    app.register_blueprint(holder_views.holder_pages)
    # Key figures gather several domains' records, so they sit on top of all of them.
    from marketplace import reporting

    app.register_api(reporting.api)
    app.register_blueprint(reporting.bp)
    # The operator's console gathers every domain's administration, so it sits on top too.
    from marketplace.admin import views as admin_views

    app.register_api(admin_views.api)
    app.register_blueprint(admin_views.bp)
    return app
