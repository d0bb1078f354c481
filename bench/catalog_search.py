"""Catalog search latency through the HTTP API with 10,000 published descriptors.

Run: .venv/bin/python bench/catalog_search.py [--quick] [--size N]

Seeds the demo organisations and N generated descriptors (the same code as
`marketplace demo --catalog-size N`) into a fresh SQLite database, serves the app on a loopback
port and times a mix of searches (free text, each facet, deep pages) over real HTTP. The
baseline is GET /healthz on the same server in the same run: the cost of the HTTP stack itself.
"""
import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import create_app, schema
from marketplace.catalog import demo as catalog_demo
from marketplace.db import session_scope
from marketplace.identity import demo as identity_demo
from marketplace.security import current_keyring

QUERIES = (
    "/api/v1/datasets",
    "/api/v1/datasets?q=kol",
    "/api/v1/datasets?q=hjertesvigt+kardiologi",
    "/api/v1/datasets?q=demens&publisher_level=municipal",
    "/api/v1/datasets?theme=SOCI&access_rights=RESTRICTED",
    "/api/v1/datasets?health_category=REGISTRY&page=5",
    "/api/v1/datasets?publisher_level=national&per_page=100",
    "/api/v1/datasets?q=register&page=20&per_page=50",
    "/api/v1/datasets?q=ingenting-matcher-dette",
    "/api/v1/datasets?q=kræft&theme=HEAL&health_category=EHR",
)


def build_app(tmp: Path, size: int):
    url = f"sqlite:///{tmp / 'bench.db'}"
    schema.upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DATA_DIR": tmp / "data",
                      "MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})
    with app.app_context(), session_scope(app) as session:
        orgs = identity_demo.seed_orgs_and_users(session)
        world = identity_demo.DemoWorld(orgs=orgs, population=None, keyring=current_keyring(),
                                        data_dir=tmp / "data")
        catalog_demo.seed_bulk_descriptors(session, world, size)
    return app


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(http: requests.Session, base: str, paths, count: int) -> list[float]:
    times = []
    for path in itertools.islice(itertools.cycle(paths), count):
        started = time.perf_counter()
        response = http.get(base + path, timeout=30)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and runs")
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    requests_per_run, runs = (60, 3) if args.quick else (300, 5)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), args.size)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with requests.Session() as http:
                total = http.get(base + "/api/v1/datasets?per_page=1").json()["total"]
                timed(http, base, QUERIES, len(QUERIES))  # warm caches and imports
                search_p95, search_p50, health_p95 = [], [], []
                for _ in range(runs):
                    times = timed(http, base, QUERIES, requests_per_run)
                    search_p95.append(percentile(times, 0.95))
                    search_p50.append(statistics.median(times))
                    health_p95.append(percentile(
                        timed(http, base, ["/healthz"], requests_per_run), 0.95))
        finally:
            server.shutdown()
    p95, baseline = statistics.median(search_p95), statistics.median(health_p95)
    print(f"published descriptors: {total:,}; {runs} runs of {requests_per_run} searches")
    print(f"search over HTTP: median of p50 {1000 * statistics.median(search_p50):.1f} ms, "
          f"median of p95 {1000 * p95:.1f} ms (target p95 < 100 ms)")
    print(f"baseline GET /healthz: median of p95 {1000 * baseline:.1f} ms")
    print(f"RATIO search p95 / healthz p95 = {p95 / baseline:.1f}x")


if __name__ == "__main__":
    main()
