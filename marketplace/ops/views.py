"""/healthz, /readyz and /metrics: what load balancers, orchestrators and Prometheus call."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify

from marketplace.db import get_session, utcnow
from marketplace.ops import health, metrics
from marketplace.security import current_keyring

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process lives and answers (no dependency is checked: see /readyz)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Database, data folder and keys usable: 200, or 503 naming the failed check."""
    session = get_session()
    ready, checks = health.run_checks({
        "database": lambda: health.check_database(session),
        "data_dir": lambda: health.check_data_dir(Path(current_app.config["DATA_DIR"])),
        "keys": lambda: health.check_keys(current_keyring()),
    })
    body = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    body.headers["Cache-Control"] = "no-store"
    return body, 200 if ready else 503


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text format; loopback without a proxy, or the configured bearer token."""
    metrics.check_metrics_access(token=current_app.config.get("METRICS_TOKEN") or None)
    return metrics.metrics_response(get_session(), now=utcnow())
