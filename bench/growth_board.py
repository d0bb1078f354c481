"""Benchmark: the pipeline board page (/opportunities) with 1,000 opportunities.

Renders the board for a signed-in steering-group member through the whole app (sign-in, query,
template, SVG chart) and prints the median and p95 of several renders, next to a baseline
measured in the same run: the same page with an empty pipeline. Target: p95 under 200 ms.

    .venv/bin/python bench/growth_board.py [--quick]
"""
import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from marketplace import create_app, schema
from marketplace.db import session_scope
from marketplace.growth.models import (
    STAGES,
    Opportunity,
    OpportunityCompany,
    Recommendation,
)
from marketplace.identity import services as identity
from marketplace.identity import sessions as sign_ins

THEMES = ("telemedicine", "rehabilitation", "health_data", "simulation", "prevention")


def build_app(tmp: Path):
    url = f"sqlite:///{tmp / 'bench.db'}"
    schema.upgrade(url)
    os.environ["MARKETPLACE_INSTANCE_PATH"] = str(tmp / "instance")
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                       "MASTER_KEY": base64.b64encode(bytes(range(32))).decode(),
                       "DATA_DIR": tmp / "data", "OIDC_ISSUER": "http://127.0.0.1:9"})


def seed(app, count: int) -> str:
    """Add `count` opportunities (a tenth awaiting a decision); return a sign-in id."""
    rng = random.Random(2018)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(app) as session:
        cluster = identity.create_org(session, slug="chc", name="Cluster", kind="cluster")
        owner = identity.create_org(session, slug="kommune", name="Kommune", kind="municipal")
        companies = [identity.create_org(session, slug=f"company-{i}", name=f"Virksomhed {i}",
                                         kind="company") for i in range(20)]
        user = identity.add_user(session, sub="steering", email="s@x.example", org=cluster,
                                 role="steering_group", name="Styregruppe")
        session.flush()
        for number in range(count):
            stage = rng.choice((*STAGES, "parkeret", "stoppet"))
            at = start + timedelta(hours=number)
            opportunity = Opportunity(
                title=f"Mulighed {number}: hjemmemonitorering", description="Beskrivelse",
                origin=rng.choice(("idea", "clinical_project", "test_course")), stage=stage,
                themes=[rng.choice(THEMES)], need_owner_org_id=owner.id,
                registered_by_org_id=cluster.id, created_at=at, updated_at=at,
                companies=[OpportunityCompany(org_id=rng.choice(companies).id)])
            session.add(opportunity)
            if number % 10 == 0 and stage in STAGES[:-1]:
                session.flush()
                session.add(Recommendation(
                    opportunity_id=opportunity.id, from_stage=stage,
                    to_stage=STAGES[STAGES.index(stage) + 1], model_version="2026.1",
                    by_org_id=cluster.id, at=at))
        session.flush()
        record = sign_ins.start_sign_in(session, kind="staff", subject_id=user.id)
        return record.id


def measure(app, sign_in: str, runs: int) -> list[float]:
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["sid"] = sign_in
    times = []
    for _ in range(runs + 2):
        began = time.perf_counter()
        response = client.get("/opportunities")
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, response.status_code
        times.append(elapsed * 1000)
    return times[2:]  # the first renders warm template and statement caches


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    runs = 20 if args.quick else 60
    with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as full:
        empty_app, full_app = build_app(Path(base)), build_app(Path(full))
        empty = measure(empty_app, seed(empty_app, 0), runs)
        loaded = measure(full_app, seed(full_app, args.count), runs)
        with session_scope(full_app) as session:
            stored = session.scalar(sa.select(sa.func.count()).select_from(Opportunity))
    print(f"board with {stored} opportunities: median {statistics.median(loaded):.1f} ms, "
          f"p95 {p95(loaded):.1f} ms ({runs} renders)")
    print(f"baseline, empty board:        median {statistics.median(empty):.1f} ms, "
          f"p95 {p95(empty):.1f} ms")
    print(f"ratio (p95, full / empty): {p95(loaded) / p95(empty):.2f}")
    print(f"target p95 < 200 ms: {'met' if p95(loaded) < 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
