"""Operations: health and readiness, Prometheus metrics, JSON logs, the production server and
a worker's graceful stop. Nothing here holds business rules. The probes, metrics and logs sit
above every domain; `shutdown` is a foundation piece that any edge (the job worker) may use."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from flask.typing import ResponseReturnValue

PROBE_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.prometheus_metrics"})


def init_app(app: Flask) -> None:  # the app is flask_openapi3.OpenAPI
    """Install request ids, JSON logs, request metrics and the /healthz, /readyz, /metrics routes.

    Call it before any other before-request hook so every later log line carries the request id
    and the duration covers authentication too.
    """
    from marketplace.ops import logs, metrics, views

    logs.init_app(app)
    metrics.init_app(app)
    app.register_api(views.bp)  # type: ignore[attr-defined]


def unless_probe(hook: Callable[[], ResponseReturnValue | None]
                 ) -> Callable[[], ResponseReturnValue | None]:
    """Skip a before-request hook for the probes: they neither sign anyone in nor read the
    caller's token (the metrics token is not an API token)."""

    def hook_unless_probe() -> ResponseReturnValue | None:
        if request.endpoint in PROBE_ENDPOINTS:
            return None
        return hook()

    return hook_unless_probe
