"""Access applications per second under gunicorn at 32 connections, with and without the kept
cohort columns.

Builds the demo world (in the PostgreSQL database given with --database-url, whose schema is
reset; SQLite in a temporary folder otherwise, where concurrent writers meet "database is
locked" and the POST figures mean little), gives Pulmo Monitor's system a token, then runs
gunicorn twice on the same database and drives POST /api/v1/access-requests from 32 keep-alive
connections with varied applications (purpose, datasets, age band, duration):

- baseline, uncached: every request first forgets the kept cohort columns, so each estimate
  decrypts its data version, as every application did before;
- kept: the production path.

Then GET /api/v1/register (the public register) from 32 connections on the kept server.
Prints requests/s, median and p99 latency, errors, and the ratios kept/uncached.

    .venv/bin/python bench/access_apply.py [--quick] [--database-url URL] [--workers N]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PURPOSES = ["company_research", "public_research", "test_environment", "education",
            "advertising_marketing"]
CONNECTIONS = 32


def uncached_app():  # gunicorn factory: "bench.access_apply:uncached_app()"
    """The app with the kept cohort columns forgotten before every request (the baseline)."""
    from marketplace import create_app
    from marketplace.delivery import cohorts

    app = create_app()
    app.before_request(cohorts.clear_caches)
    return app


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def build_world(url: str, citizens: int) -> tuple[str, list[dict]]:
    """Migrate, seed the demo world; return a company bearer token and application bodies."""
    from marketplace import create_app, schema
    from marketplace.catalog import services as catalog_services
    from marketplace.cli import cli
    from marketplace.db import session_scope
    from marketplace.identity import services as identity_services
    from marketplace.security import current_keyring

    schema.upgrade(url)
    app = create_app({"TESTING": True})
    result = app.test_cli_runner().invoke(cli, ["demo", "--citizens", str(citizens)])
    assert result.exit_code == 0, result.output
    with app.app_context(), session_scope(app) as session:
        org = identity_services.require_org(session, slug="pulmo-monitor")
        issued = identity_services.create_api_client(session, keyring=current_keyring(), org=org,
                                                     scopes="access:request")
        client_id, secret = issued.client.client_id, issued.secret
        datasets = [(d.id, [c["name"] for c in d.columns if c.get("role") != "direct_identifier"])
                    for d in catalog_services.list_published_datasets(session)]
    token = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(client_id, secret)).get_json()["access_token"]
    rng = random.Random(11)
    bodies = []
    for i in range(2_000):
        chosen = rng.sample(datasets, rng.choice([1, 1, 2]))
        low = rng.randint(0, 60)
        bodies.append({
            "title": f"Belastningsprøve {i}", "description": "Måling af svartid.",
            "purpose": rng.choice(PURPOSES),
            "datasets": [{"id": d, "columns": rng.sample(cols, min(3, len(cols)))}
                         for d, cols in chosen],
            "cohort": {"age": [low, low + rng.randint(10, 60)]},
            "duration_days": rng.randint(30, 1200), "safeguards": "Sikkert miljø."})
    return token, bodies


def time_estimates(bodies: list[dict], rounds: int) -> tuple[float, float]:
    """Median ms of one cohort estimate in-process: decrypting the version each time, and kept.

    The same applications in the same process, alternating, so the machine's load hits both.
    """
    from marketplace import create_app
    from marketplace.catalog.models import Dataset
    from marketplace.db import session_scope, utcnow
    from marketplace.delivery import cohorts
    from marketplace.security import current_keyring

    app = create_app({"TESTING": True})
    uncached, kept = [], []
    with app.app_context(), session_scope(app) as session:
        keyring, data_dir = current_keyring(), Path(app.config["DATA_DIR"])
        asks = [(session.get(Dataset, d["id"]), body["cohort"], body["purpose"])
                for body in bodies for d in body["datasets"]]
        def timed(dataset: Dataset, cohort: dict, purpose: str) -> float | None:
            started = time.perf_counter()
            try:
                cohorts.estimate_cohort_size(session, dataset=dataset, cohort=cohort,
                                             purpose=purpose, as_of=utcnow(), keyring=keyring,
                                             data_dir=data_dir)
            except Exception:  # a dataset without a valid version: not timed
                return None
            return (time.perf_counter() - started) * 1000

        for dataset, cohort, purpose in asks:  # keep every version's columns once
            timed(dataset, cohort, purpose)
        for round_ in range(rounds):
            for dataset, cohort, purpose in asks:
                # A cohort not asked before: the kept columns, but no kept answer.
                fresh = {**cohort, "age": [cohort["age"][0], cohort["age"][1] + 1 + round_]}
                kept.append(timed(dataset, fresh, purpose) or 0.0)
                cohorts.clear_caches()
                uncached.append(timed(dataset, fresh, purpose) or 0.0)
                timed(dataset, cohort, purpose)  # keep the columns again for the next one
    return statistics.median(uncached), statistics.median(kept)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(app_spec: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", str(threads), "--worker-class", "gthread",
         "--backlog", "256", "--log-level", "warning", app_spec],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@dataclass
class Load:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def median(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[98]


def drive(port: int, requests: list[tuple[str, str, bytes | None]], headers: dict[str, str],
          seconds: float) -> Load:
    """Send `requests` round-robin from 32 keep-alive connections for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop_at:
            with lock:
                method, path, body = requests[next(counter) % len(requests)]
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status < 300
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            mine.append((time.perf_counter() - started) * 1000)
            failed += not ok
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Load(len(latencies), errors[0], time.monotonic() - began, latencies)


def report(name: str, load: Load) -> None:
    print(f"{name}: {load.per_second:.0f} requests/s, median {load.median:.0f} ms, "
          f"p99 {load.p99:.0f} ms, {load.errors} errors of {load.requests}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small world, short runs")
    parser.add_argument("--database-url", help="PostgreSQL URL (its schema is reset)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    citizens, seconds, runs = (2_000, 6.0, 1) if args.quick else (20_000, 20.0, 3)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if args.database_url:
            _reset_postgres(url)
        os.environ.update({"MARKETPLACE_DATABASE_URL": url,
                           "MARKETPLACE_INSTANCE_PATH": f"{tmp}/instance",
                           "MARKETPLACE_DATA_DIR": f"{tmp}/data",
                           "MARKETPLACE_SECRET_KEY": "bench"})
        token, bodies = build_world(url, citizens)
        estimate_uncached, estimate_kept = time_estimates(bodies[:40], 1 if args.quick else 3)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        applications = [("POST", "/api/v1/access-requests", json.dumps(b).encode())
                        for b in bodies]
        register = [("GET", f"/api/v1/register?page={page}", None) for page in (1, 1, 1, 2)]
        results: dict[str, list[Load]] = {"uncached": [], "kept": [], "register": []}
        servers = [("uncached", "bench.access_apply:uncached_app()"),
                   ("kept", "marketplace:create_app()")]
        for run in range(runs):
            # Alternate the order so that a change in the machine's load hits both alike.
            for name, spec in servers if run % 2 == 0 else servers[::-1]:
                port = free_port()
                server = start_gunicorn(spec, port, args.workers, args.threads)
                try:
                    drive(port, applications[:64], headers, 2.0)  # warm both workers
                    results[name].append(drive(port, applications, headers, seconds))
                    if name == "kept":
                        results["register"].append(drive(port, register, {}, seconds / 2))
                finally:
                    stop(server)
    print(f"{runs} run(s) of {seconds:.0f} s at {CONNECTIONS} connections; gunicorn "
          f"{args.workers} workers x {args.threads} threads (gthread); "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}; demo world of {citizens} "
          f"citizens")
    best: dict[str, Load] = {}
    for name, loads in results.items():
        best[name] = sorted(loads, key=lambda load: load.per_second)[len(loads) // 2]
    report("baseline POST /api/v1/access-requests, cohort columns decrypted per request",
           best["uncached"])
    report("POST /api/v1/access-requests, cohort columns kept", best["kept"])
    report("GET /api/v1/register", best["register"])
    print(f"ratio kept/uncached: {best['kept'].per_second / best['uncached'].per_second:.1f}x "
          f"requests/s, {best['uncached'].p99 / best['kept'].p99:.1f}x lower p99")
    print(f"one cohort estimate in-process, median: {estimate_uncached:.2f} ms decrypting the "
          f"version, {estimate_kept:.2f} ms kept; ratio {estimate_uncached / estimate_kept:.0f}x")


if __name__ == "__main__":
    main()
