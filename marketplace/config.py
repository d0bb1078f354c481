"""Configuration: defaults, then MARKETPLACE_* environment variables, then explicit overrides.

In development the secret key and master key are generated once into the instance folder; in
production (MARKETPLACE_ENV=production) they must be given, and start-up fails without them.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from marketplace.security import generate_master_key

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "OIDC_ISSUER": "http://127.0.0.1:9400",
    "OIDC_CLIENT_ID": "marketplace-dev",
    "OIDC_CLIENT_SECRET": "marketplace-dev-secret",
    "OIDC_CPR_CLAIM": "cpr",
    "OIDC_CHILDREN_CLAIM": "children",
    "OIDC_SCOPES": "openid profile email",
    "SESSION_LIFETIME_MINUTES": 30,
    "TOKEN_LIFETIME_SECONDS": 3600,
    # Wrong client secrets allowed at /oauth/token before 429, per client and address and per
    # address; the counters' storage (a Redis URL shares them across app processes).
    "TOKEN_FAILURES_PER_CLIENT": "10/minute",
    "TOKEN_FAILURES_PER_ADDRESS": "50/minute",
    "RATELIMIT_STORAGE_URI": "memory://",
    "MAX_CONTENT_LENGTH": 1 * 1024 * 1024,
    "MAX_UPLOAD_BYTES": 2 * 1024 * 1024 * 1024,
    "EXTRACTS_INLINE": True,
    # A job worker renews its lease every third of this; a worker that dies holds its job until
    # the lease runs out, then the next worker to poll takes it over.
    "JOB_LEASE_SECONDS": 30,
    "DASK_MIN_ROWS": 5_000_000,
    "DASK_SCHEDULER_ADDRESS": None,
    "POLICIES_DIR": None,
    "PREFERRED_URL_SCHEME": "http",
    # Operations: JSON log lines (or "text"), the marketplace's log level, and the bearer token
    # that opens /metrics to a scraper that is not on loopback (unset: loopback only).
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    "METRICS_TOKEN": None,
    # Notifications: the SMTP server mail leaves by (unset: notifications stay in the inbox),
    # and the address links in mail point to.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_FROM": "noreply@marketplace.invalid",
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,
    "PUBLIC_URL": "http://127.0.0.1:5000",
}


def _instance_secret(instance: Path, name: str, make: Any) -> str:
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    """Fill app.config from defaults, the environment and `overrides`, then derive the rest."""
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("MARKETPLACE")
    if overrides:
        app.config.update(overrides)
    config = app.config
    instance = Path(app.instance_path)
    production = config["ENV"] == "production"

    config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'marketplace.db'}")
    config["DATA_DIR"] = Path(config.get("DATA_DIR") or instance / "data")
    if config.get("POLICIES_DIR") is None:
        config["POLICIES_DIR"] = Path(__file__).resolve().parent.parent / "policies"
    config["POLICIES_DIR"] = Path(config["POLICIES_DIR"])

    for key, filename, make in (
        ("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(48)),
        ("MASTER_KEY", "master_key", generate_master_key),
    ):
        if not config.get(key):
            if production:
                raise RuntimeError(f"MARKETPLACE_{key} is required in production")
            config[key] = _instance_secret(instance, filename, make)

    lifetime = int(config["SESSION_LIFETIME_MINUTES"])
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=lifetime)
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = production
    config["SESSION_COOKIE_NAME"] = "marketplace_session"
    # Our own check covers session calls only: bearer-token API calls carry no cookie.
    config["WTF_CSRF_CHECK_DEFAULT"] = False
    config["WTF_CSRF_TIME_LIMIT"] = int(config["SESSION_LIFETIME_MINUTES"]) * 60
    if production:
        config["EXTRACTS_INLINE"] = False
        # The development provider hands out any CPR claim: production must name its broker.
        for key in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
            if config[key] == DEFAULTS[key]:
                raise RuntimeError(f"MARKETPLACE_{key} is required in production")
        if str(config["DATABASE_URL"]).startswith("sqlite"):
            # One file lock for every writer: fine embedded, not for several app processes.
            raise RuntimeError("MARKETPLACE_DATABASE_URL must name a PostgreSQL database in "
                               "production; SQLite is the embedded default for development")
    os.makedirs(config["DATA_DIR"], exist_ok=True)
