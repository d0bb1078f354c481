"""Latency of a full access application through the HTTP API, database included.

Builds the demo world in a temporary SQLite database, signs Pulmo Monitor's system in with
OAuth2 client credentials, then POSTs applications to /api/v1/access-requests through the
Flask test client: parsing, the catalog and consent look-ups, the cohort estimate on the
encrypted data version, the Cedar decision, the permit or review tasks, the audit chain and the
commit. Applications vary (purpose, datasets, cohort, duration) so each one is decided afresh.

Baseline, in the same run: GET /api/v1/access-requests/<id> for one application (token check,
one read, serialisation) - the cost of the framework and the database alone.

    .venv/bin/python bench/access_http.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import create_app, schema
from marketplace.catalog import services as catalog_services
from marketplace.cli import cli
from marketplace.db import session_scope
from marketplace.delivery import cohorts as delivery_services
from marketplace.identity import services as identity_services
from marketplace.security import current_keyring

PURPOSES = ["company_research", "public_research", "test_environment", "education",
            "advertising_marketing"]


def build_app(tmp: Path, citizens: int):
    os.environ["MARKETPLACE_INSTANCE_PATH"] = str(tmp / "instance")
    url = f"sqlite:///{tmp / 'bench.db'}"
    schema.upgrade(url)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": tmp / "data", "SECRET_KEY": "bench",
                      "TESTING": True})
    result = app.test_cli_runner().invoke(cli, ["demo", "--citizens", str(citizens)])
    assert result.exit_code == 0, result.output
    return app


def bearer(app, client) -> str:
    with app.app_context(), session_scope(app) as session:
        org = identity_services.require_org(session, slug="pulmo-monitor")
        issued = identity_services.create_api_client(session, keyring=current_keyring(), org=org,
                                                     scopes="access:request")
        client_id, secret = issued.client.client_id, issued.secret
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret)).get_json()["access_token"]
    return f"Bearer {token}"


def applications(app, n: int, seed: int = 11) -> list[dict]:
    with app.app_context(), session_scope(app) as session:
        datasets = [(d.id, [c["name"] for c in d.columns if c.get("role") != "direct_identifier"])
                    for d in catalog_services.list_published_datasets(session)]
    rng = random.Random(seed)
    bodies = []
    for i in range(n):
        chosen = rng.sample(datasets, rng.choice([1, 1, 2]))
        low = rng.randint(0, 60)
        bodies.append({
            "title": f"Benchmark-projekt {i}", "description": "Måling af svartid.",
            "purpose": rng.choice(PURPOSES),
            "datasets": [{"id": d, "columns": rng.sample(cols, min(3, len(cols)))}
                         for d, cols in chosen],
            "cohort": {"age": [low, low + rng.randint(10, 60)]},
            "duration_days": rng.randint(30, 1200), "test_environment": None,
            "safeguards": "Sikkert miljø."})
    return bodies


class EstimateClock:
    """Time spent in the delivery domain's cohort estimate (consent snapshot included)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.real = delivery_services.estimate_cohort_sizes
        delivery_services.estimate_cohort_sizes = self

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.real(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def timed(call) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code < 300, response.get_json()
    return elapsed


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run for CI (seconds)")
    parser.add_argument("--fixed-estimate", action="store_true",
                        help="answer every cohort estimate with 100 people, to time the access "
                             "domain without the delivery and consent work")
    args = parser.parse_args()
    citizens, n, runs = (300, 60, 3) if args.quick else (5_000, 300, 5)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), citizens)
        client = app.test_client()
        headers = {"Authorization": bearer(app, client)}
        for body in applications(app, 5, seed=1):  # warm the data and estimate caches
            client.post("/api/v1/access-requests", json=body, headers=headers)
        first = client.post("/api/v1/access-requests", json=applications(app, 1, seed=2)[0],
                            headers=headers).get_json()
        apply_p99, apply_median, read_p99, outcomes = [], [], [], {}
        estimates = EstimateClock()
        if args.fixed_estimate:
            estimates.real = lambda *args, **kwargs: 100
        total = 0.0
        for run in range(runs):
            samples = []
            for body in applications(app, n, seed=100 + run):
                started = time.perf_counter()
                response = client.post("/api/v1/access-requests", json=body, headers=headers)
                samples.append((time.perf_counter() - started) * 1000)
                total += samples[-1] / 1000
                assert response.status_code == 201, response.get_json()
                outcome = response.get_json()["decision"]["outcome"]
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            reads = [timed(lambda: client.get(f"/api/v1/access-requests/{first['id']}",
                                              headers=headers)) for _ in range(n)]
            apply_p99.append(p99(samples))
            apply_median.append(statistics.median(samples))
            read_p99.append(p99(reads))
    apply_, read_ = statistics.median(apply_p99), statistics.median(read_p99)
    print(f"{runs} runs of {n} applications on the demo world ({citizens} citizens); "
          f"outcomes {outcomes}")
    print(f"POST /api/v1/access-requests: median of medians {statistics.median(apply_median):.1f}"
          f" ms, median p99 {apply_:.1f} ms (budget 50 ms: "
          f"{'met' if apply_ < 50 else 'NOT met'})")
    print(f"share of POST time in the cohort estimate (delivery + consent): "
          f"{estimates.seconds / total:.0%}")
    print(f"baseline GET /api/v1/access-requests/<id>: median p99 {read_:.1f} ms")
    print(f"ratio apply/read p99: {apply_ / read_:.1f}x")


if __name__ == "__main__":
    main()
