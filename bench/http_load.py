"""Throughput and latency of the production server under load: gunicorn with the repository's
configuration (marketplace/ops/gunicorn_config.py) on PostgreSQL with the demo world, driven
over loopback by 32 concurrent keep-alive connections.

Scenarios: the catalog search API, the public register, and access applications (POST with a
company's bearer token, each one decided afresh). Baseline, measured in the same run on the same
server: GET /healthz (the cost of gunicorn, Flask and our request hooks alone).

Prints, per scenario: requests, requests/s, p50 and p99 in ms, errors (any non-2xx answer or
broken connection), the throughput as a share of the baseline's, and the CPU milliseconds each
request cost in the server's processes (app) and in PostgreSQL's (db): with 2 cores, their sum
bounds the requests per second. `--only TEXT` runs the baseline and the scenarios named so.

    MARKETPLACE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/http_load.py [--quick] [--rounds N]

The database named is emptied first. The load generator is wrk (Debian package wrk: C, one
thread here, so the server keeps most of the 2 cores), fed a Lua script with a few thousand
prepared requests per scenario; without wrk, or with --python-client, it is Python threads (one
per connection), which take a core's worth of CPU from the server: their figures are a lower
bound.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from marketplace import create_app, schema  # noqa: E402
from marketplace.db import create_engine_for, session_scope  # noqa: E402

MASTER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
CONNECTIONS = 32
SEARCH_TERMS = ["", "diabetes", "KOL", "hjerte", "genoptræning", "kommune", "indlæggelse",
                "lys", "medicin", "borger"]
PURPOSES = ["company_research", "public_research", "test_environment", "education"]

Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0
    # Set directly by a client that reports summaries (wrk) instead of each latency.
    requests: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None

    def summary(self) -> tuple[int, float, float]:
        """Requests, p50 and p99 in ms."""
        if self.requests is not None and self.p50_ms is not None and self.p99_ms is not None:
            return self.requests, self.p50_ms, self.p99_ms
        samples = self.latencies_ms or [float("nan")]
        return (len(self.latencies_ms), statistics.median(samples),
                percentile(self.latencies_ms, 0.99))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reset_database(url: str) -> None:
    """Empty a PostgreSQL database (a SQLite file is new anyway) and migrate it."""
    if url.startswith("postgresql"):
        engine = create_engine_for(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    schema.upgrade(url)


def prepare_database(url: str, tmp: Path, citizens: int) -> dict[str, str]:
    """Empty the database, migrate it, build the demo world; return the server's environment."""
    reset_database(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "MARKETPLACE_DATABASE_URL": url, "MARKETPLACE_DATA_DIR": str(tmp / "data"),
           "MARKETPLACE_INSTANCE_PATH": str(tmp / "instance"),
           "MARKETPLACE_SECRET_KEY": "bench-secret", "MARKETPLACE_MASTER_KEY": MASTER_KEY}
    os.environ.update({k: v for k, v in env.items() if k.startswith("MARKETPLACE_")})
    from marketplace.cli import cli

    app = create_app()
    result = app.test_cli_runner().invoke(cli, ["demo", "--citizens", str(citizens)])
    assert result.exit_code == 0, result.output
    app.extensions["marketplace.engine"].dispose()
    return env


def company_client(url: str) -> tuple[str, str, list[tuple[int, list[str]]]]:
    """An API client of Pulmo Monitor and the published datasets with their columns."""
    from marketplace.catalog import services as catalog_services
    from marketplace.identity import services as identity_services

    app = create_app()
    with app.app_context(), session_scope(app) as session:
        org = identity_services.require_org(session, slug="pulmo-monitor")
        issued = identity_services.create_api_client(
            session, keyring=app.extensions["marketplace.keyring"], org=org,
            scopes="access:request")
        datasets = [(d.id, [c["name"] for c in d.columns
                            if c.get("role") != "direct_identifier"])
                    for d in catalog_services.list_published_datasets(session)]
        credentials = (issued.client.client_id, issued.secret)
    app.extensions["marketplace.engine"].dispose()
    return credentials[0], credentials[1], datasets


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    server_env = {**env, "MARKETPLACE_WEB_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:marketplace.ops.gunicorn_config"],
        env=server_env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"the server did not become ready; see {log}")


def token(port: int, client_id: str, secret: str) -> str:
    import base64

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    connection.request("POST", "/oauth/token", body="grant_type=client_credentials",
                       headers={"Authorization": f"Basic {basic}",
                                "Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    assert answer.status == 200, answer.read()
    return str(json.loads(answer.read())["access_token"])


def drive(port: int, make_request: Callable[[random.Random], Request], seconds: float,
          warmup: float) -> Outcome:
    """CONNECTIONS threads, each with one keep-alive connection, for `seconds` after warmup."""
    outcome = Outcome()
    lock = threading.Lock()
    start_at = time.monotonic() + warmup
    stop_at = start_at + seconds

    def connection_loop(number: int) -> None:
        rng = random.Random(number)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        errors, first_error = 0, ""
        while (now := time.monotonic()) < stop_at:
            method, path, body, headers = make_request(rng)
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                ok = 200 <= answer.status < 300
                if not ok and not first_error:
                    first_error = f"{answer.status} {payload[:200]!r}"
            except Exception as error:  # counted as an error of the server, never lost
                ok = False
                first_error = first_error or repr(error)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            if now >= start_at:
                mine.append(elapsed)
                errors += 0 if ok else 1
        connection.close()
        with lock:
            outcome.latencies_ms.extend(mine)
            outcome.errors += errors
            outcome.first_error = outcome.first_error or first_error

    threads = [threading.Thread(target=connection_loop, args=(n,)) for n in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = seconds
    return outcome


WRK_SCRIPT = """
local requests = {%s}
local next_request = 0
request = function()
  next_request = next_request %% #requests + 1
  local r = requests[next_request]
  return wrk.format(r[1], r[2], r[4], r[3])
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "micros": %%d, "p50": %%d, "p99": %%d, "errors": %%d, "status": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
"""


def _lua(value: object) -> str:
    """A Lua literal of a string, a byte string (or None) or a dict of headers."""
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "{" + ",".join(f"[{_lua(k)}]={_lua(v)}" for k, v in value.items()) + "}"
    data = value if isinstance(value, bytes) else str(value).encode()
    # Lua 5.1 strings are bytes: keep printable ASCII, escape the rest as decimal \ddd.
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b:03d}"
                         for b in data) + '"'


def drive_wrk(port: int, make_request: Callable[[random.Random], Request], seconds: float,
              warmup: float, folder: Path) -> Outcome:
    """wrk with CONNECTIONS keep-alive connections replaying prepared requests."""
    rng = random.Random(7)
    prepared = [make_request(rng) for _ in range(2000)]
    script = folder / "scenario.lua"
    script.write_text(WRK_SCRIPT % ",".join(
        "{" + ",".join(_lua(part) for part in r) + "}" for r in prepared), encoding="ascii")

    def run(duration: float) -> dict[str, int]:
        finished = subprocess.run(
            ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(duration))}s", "--timeout", "30s",
             "-s", str(script), f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True)
        return dict(json.loads(finished.stdout.strip().splitlines()[-1]))

    if warmup:
        run(warmup)
    figures = run(seconds)
    outcome = Outcome(seconds=figures["micros"] / 1e6, errors=figures["errors"])
    outcome.requests = figures["requests"]
    outcome.p50_ms, outcome.p99_ms = figures["p50"] / 1000, figures["p99"] / 1000
    if figures["errors"]:
        outcome.first_error = f"{figures['status']} answers of 4xx/5xx, the rest broken connections"
    return outcome


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(server_pid: int) -> tuple[float, float]:
    """CPU seconds used so far by the server's processes and by PostgreSQL's (on this machine:
    the figures per request say where a request's cost goes; other work on the machine that
    uses PostgreSQL meanwhile counts too)."""
    app = sum(_process_cpu(pid) for pid in [server_pid, *_children(server_pid)])
    postgres = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    database = sum(_process_cpu(int(pid)) for pid in postgres.stdout.split())
    return app, database


@dataclass
class Row:
    """One scenario's figures in one round."""

    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    app_ms: float
    db_ms: float
    share: float = 1.0
    first_error: str = ""

    @staticmethod
    def median(rows: list[Row]) -> Row:
        mid = statistics.median
        return Row(int(mid([r.requests for r in rows])), mid([r.rate for r in rows]),
                   mid([r.p50_ms for r in rows]), mid([r.p99_ms for r in rows]),
                   sum(r.errors for r in rows), mid([r.app_ms for r in rows]),
                   mid([r.db_ms for r in rows]), mid([r.share for r in rows]),
                   next((r.first_error for r in rows if r.first_error), ""))


def run_scenario(server_pid: int, port: int, make: Callable[[random.Random], Request],
                 seconds: float, warmup: float, tmp: Path, use_wrk: bool) -> Row:
    cpu_before = cpu_seconds(server_pid)
    outcome = (drive_wrk(port, make, seconds, warmup, tmp) if use_wrk
               else drive(port, make, seconds, warmup))
    app_cpu, db_cpu = (after - before for after, before
                       in zip(cpu_seconds(server_pid), cpu_before, strict=True))
    count, p50, p99 = outcome.summary()
    rate = count / outcome.seconds
    # CPU per request, warm-up included in both the time and the count's share.
    served = max(1.0, rate * (outcome.seconds + warmup))
    return Row(count, rate, p50, p99, outcome.errors, app_cpu / served * 1000,
               db_cpu / served * 1000, first_error=outcome.first_error)


def print_row(name: str, row: Row, goal: str) -> None:
    print(f"{name:34} {row.requests:8d} {row.rate:8.1f} {row.p50_ms:8.1f} {row.p99_ms:8.1f} "
          f"{row.errors:6d} {row.share:8.2f} {row.app_ms:6.2f} {row.db_ms:6.2f}  {goal}",
          flush=True)
    if row.errors:
        print(f"    first error: {row.first_error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 3 minutes)")
    parser.add_argument("--database-url", default=os.environ.get(
        "MARKETPLACE_BENCH_POSTGRES_URL") or os.environ.get("MARKETPLACE_TEST_POSTGRES_URL"),
                        help="PostgreSQL to use (emptied first)")
    parser.add_argument("--workers", type=int, help="gunicorn processes (default: per core)")
    parser.add_argument("--threads", type=int, help="threads per process (default: 4)")
    parser.add_argument("--only", help="run only the scenarios whose name contains this text "
                        "(the baseline always runs)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the scenarios this many times in turn and print the medians "
                        "too (the machine's speed drifts: rounds spread the drift over them)")
    parser.add_argument("--python-client", action="store_true",
                        help="drive the load with Python threads even where wrk is installed")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("name a PostgreSQL database: --database-url or "
                         "MARKETPLACE_BENCH_POSTGRES_URL")
    citizens, seconds, warmup = (300, 5.0, 1.0) if args.quick else (5_000, 30.0, 3.0)

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        started = time.monotonic()
        env = prepare_database(args.database_url, tmp, citizens)
        if args.workers:
            env["MARKETPLACE_WEB_WORKERS"] = str(args.workers)
        if args.threads:
            env["MARKETPLACE_WEB_THREADS"] = str(args.threads)
        client_id, secret, datasets = company_client(args.database_url)
        print(f"demo world ({citizens} citizens, {len(datasets)} datasets) in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        port = free_port()
        server = start_server(env, port, tmp / "server.log")
        try:
            bearer = {"Authorization": f"Bearer {token(port, client_id, secret)}"}

            def healthz(_rng: random.Random) -> Request:
                return "GET", "/healthz", None, {}

            def search(rng: random.Random) -> Request:
                term = rng.choice(SEARCH_TERMS)
                return ("GET", f"/api/v1/datasets?q={quote(term)}&page=1&per_page=20", None,
                        {})

            def register(_rng: random.Random) -> Request:
                return "GET", "/api/v1/register", None, {}

            def apply(rng: random.Random) -> Request:
                chosen = rng.sample(datasets, min(len(datasets), rng.choice([1, 1, 2])))
                low = rng.randint(0, 60)
                body = {
                    "title": f"Belastningsprøve {rng.randint(1, 10**9)}",
                    "description": "Måling af svartid under belastning.",
                    "purpose": rng.choice(PURPOSES),
                    "datasets": [{"id": d, "columns": rng.sample(cols, min(3, len(cols)))}
                                 for d, cols in chosen],
                    "cohort": {"age": [low, low + rng.randint(10, 60)]},
                    "duration_days": rng.randint(30, 1200)}
                return ("POST", "/api/v1/access-requests", json.dumps(body).encode(),
                        {**bearer, "Content-Type": "application/json"})

            scenarios: list[tuple[str, Callable[[random.Random], Request], str]] = [
                ("baseline GET /healthz", healthz, ""),
                ("GET /api/v1/datasets (search)", search, "goal >= 600 req/s, p99 < 100 ms"),
                ("GET /api/v1/register", register, "goal p99 < 100 ms"),
                ("POST /api/v1/access-requests", apply, "goal >= 150 req/s, p99 < 300 ms"),
            ]
            print(f"gunicorn on {os.cpu_count()} cores, workers "
                  f"{env.get('MARKETPLACE_WEB_WORKERS', 'per core')}, threads "
                  f"{env.get('MARKETPLACE_WEB_THREADS', '4')}; {CONNECTIONS} connections, "
                  f"{seconds:.0f} s per scenario after {warmup:.0f} s warm-up")
            use_wrk = shutil.which("wrk") is not None and not args.python_client
            print("load generator: " + ("wrk, 1 thread" if use_wrk else "Python threads"))
            print(f"{'scenario':34} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'errors':>6} {'vs base':>8} {'app ms':>6} {'db ms':>6}")
            rows: dict[str, list[Row]] = {}
            for round_number in range(1, args.rounds + 1):
                if args.rounds > 1:
                    print(f"round {round_number} of {args.rounds}", flush=True)
                baseline_rate = None
                for number, (name, make, goal) in enumerate(scenarios):
                    if number and args.only and args.only not in name:
                        continue
                    row = run_scenario(server.pid, port, make, seconds, warmup, tmp, use_wrk)
                    baseline_rate = baseline_rate or row.rate
                    row.share = row.rate / baseline_rate
                    rows.setdefault(name, []).append(row)
                    print_row(name, row, goal)
            if args.rounds > 1:
                print(f"medians of {args.rounds} rounds")
                for (name, _, goal) in scenarios:
                    if name in rows:
                        print_row(name, Row.median(rows[name]), goal)
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
