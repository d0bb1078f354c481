"""Prometheus metrics: request durations from the processes, queues and decisions from the
database at scrape time.

Two sources, one text page:
- request-duration histograms (by endpoint, method and status class) live in each process. Under
  gunicorn they use prometheus-client's multiprocess mode: the server configuration sets
  `PROMETHEUS_MULTIPROC_DIR` before any worker starts, each worker writes its samples to files
  there, and a scrape of any worker adds up all of them. Without that variable (the development
  server, tests) the process's own registry is served.
- job queues, access decisions and outputs awaiting review are counted from the database when
  scraped, so every worker answers the same, a restart loses nothing, and a new kind of job
  queue is one more `QueueSource` in `QUEUES`.

Access: the page is served to loopback callers that did not come through a proxy, or to anyone
presenting `Authorization: Bearer <MARKETPLACE_METRICS_TOKEN>` when that token is configured.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from marketplace.errors import Forbidden
from marketplace.web.i18n import gettext as _

# `*_created` series double the page and no dashboard reads them.
disable_created_metrics()

REQUEST_DURATION = Histogram(
    "marketplace_http_request_duration_seconds",
    "Time from the request's arrival in the app to its response, by endpoint.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
)


@dataclass(frozen=True)
class QueueSource:
    """A table of jobs that wait in a queue: its rows with `status` = `waiting` are queued."""

    name: str
    table: str
    status_column: str = "status"
    waiting: str = "queued"
    since_column: str = "created_at"

    def select(self) -> sa.Select[int, datetime | None]:
        table = sa.table(self.table, sa.column(self.status_column), sa.column(self.since_column))
        return (sa.select(sa.func.count(), sa.func.min(table.c[self.since_column]))
                .where(table.c[self.status_column] == self.waiting))


QUEUES: tuple[QueueSource, ...] = (
    QueueSource("extract", "extract"),
    QueueSource("workspace_job", "workspace_job"),
)


def _as_utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns the raw text of an untyped aggregate
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DatabaseCollector(Collector):
    """Gauges counted from the database when the page is scraped."""

    def __init__(self, session: Session, *, now: datetime) -> None:
        self.session = session
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        depth = GaugeMetricFamily("marketplace_job_queue_depth",
                                  "Jobs waiting to be picked up, by queue.", labels=["queue"])
        age = GaugeMetricFamily("marketplace_job_queue_oldest_age_seconds",
                                "How long the oldest waiting job has waited (0 when none).",
                                labels=["queue"])
        for queue in QUEUES:
            count, oldest = self.session.execute(queue.select()).one()
            since = _as_utc(oldest)
            depth.add_metric([queue.name], count)
            age.add_metric([queue.name], max(0.0, (self.now - since).total_seconds())
                           if since else 0.0)
        yield depth
        yield age

        # Counted from the stored decisions: it only grows, so rate() works as on a counter.
        decisions = CounterMetricFamily("marketplace_access_decisions",
                                        "Access decisions ever made, by outcome.",
                                        labels=["outcome"])
        table = sa.table("access_decision", sa.column("outcome"))
        counts: dict[str, int] = {outcome: count for outcome, count in self.session.execute(
            sa.select(table.c.outcome, sa.func.count()).group_by(table.c.outcome))}
        for outcome in sorted({"permit", "deny", "review", *counts}):
            decisions.add_metric([outcome], counts.get(outcome, 0))
        yield decisions

        outputs = sa.table("workspace_output", sa.column("status"))
        waiting = self.session.scalar(sa.select(sa.func.count())
                                      .where(outputs.c.status == "pending_review"))
        yield GaugeMetricFamily("marketplace_outputs_awaiting_review",
                                "Workspace outputs waiting for output checkers.",
                                value=waiting or 0)


def process_metrics() -> bytes:
    """The request metrics of every worker (multiprocess mode) or of this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def database_metrics(session: Session, *, now: datetime) -> bytes:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(session, now=now))
    return generate_latest(registry)


def check_metrics_access(*, token: str | None) -> None:
    """Let loopback callers that came directly (no proxy) in, or callers with the token."""
    if token:
        scheme, _space, offered = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(),
                                                              token.encode()):
            return
    elif (request.remote_addr in ("127.0.0.1", "::1")
          and "X-Forwarded-For" not in request.headers and "Forwarded" not in request.headers):
        return
    raise Forbidden(_("Målingerne er kun for driftens overvågning"))


def metrics_response(session: Session, *, now: datetime) -> Response:
    body = process_metrics() + database_metrics(session, now=now)
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


# Any token is a method to HTTP; labels must stay a small set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _observe(response: Response) -> Response:
    started = g.get("request_started")
    if started is not None:
        method = request.method if request.method in _METHODS else "other"
        REQUEST_DURATION.labels(request.endpoint or "unmatched", method,
                                f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_observe)
