"""/healthz, /readyz and /metrics: what load balancers, orchestrators and Prometheus call.

They are documented in /api/openapi.json like every other operation (tag "operations").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel

from marketplace import schema
from marketplace.db import get_session, utcnow
from marketplace.ops import health, metrics
from marketplace.security import current_keyring
from marketplace.web.api import PUBLIC, Out, responses

bp = APIBlueprint("ops", __name__, abp_tags=[Tag(name="operations")])


class Health(Out):
    status: Literal["ok"]


class CheckOutcome(BaseModel):
    ok: bool
    error: str | None = None


class Readiness(Out):
    status: Literal["ready", "not_ready"]
    checks: dict[str, CheckOutcome]


_PROMETHEUS_TEXT: dict[str, Any] = {
    "description": "Prometheus text exposition format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


@bp.get("/healthz", responses=responses(200, Health), security=PUBLIC)
def healthz() -> Response:
    """The process lives and answers (no dependency is checked: see /readyz)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz", responses={**responses(200, Readiness), "503": Readiness},
        security=PUBLIC)
def readyz() -> tuple[Response, int]:
    """Database, data folder and keys usable: 200, or 503 naming the failed check."""
    session = get_session()
    ready, checks = health.run_checks({
        "database": lambda: health.check_database(session, expected=schema.head_revisions()),
        "data_dir": lambda: health.check_data_dir(Path(current_app.config["DATA_DIR"])),
        "keys": lambda: health.check_keys(current_keyring()),
    })
    body = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    body.headers["Cache-Control"] = "no-store"
    return body, 200 if ready else 503


@bp.get("/metrics", responses={"200": _PROMETHEUS_TEXT, **responses(403)}, security=PUBLIC)
def prometheus_metrics() -> Response:
    """Prometheus metrics for the operator's monitoring.

    Served to loopback callers not relayed by a proxy, or with the bearer token configured in
    MARKETPLACE_METRICS_TOKEN.
    """
    metrics.check_metrics_access(token=current_app.config.get("METRICS_TOKEN") or None)
    return metrics.metrics_response(get_session(), now=utcnow())
