"""Concurrent writers: 8 clients writing at once through the production server, on SQLite (the
embedded default) or PostgreSQL, against 1 writer alone in the same run.

Each client has a keep-alive connection to `marketplace serve` (gunicorn, 2 processes of 4
threads) and creates dataset drafts with POST /api/v1/datasets, each a transaction that writes
the descriptor, its tags and an audit entry. Prints, for 1 and for 8 writers: requests, requests
per second, p50 and p99 latency in ms and errors (any answer but 201, or a broken connection),
and the ratios 8 writers / 1 writer.

    .venv/bin/python bench/concurrent_writers.py [--quick] [--database-url URL]

A PostgreSQL database given with --database-url is emptied first.
"""
import argparse
import base64
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import create_app
from marketplace.db import session_scope
from marketplace.identity import services as identity

sys.path.insert(0, str(Path(__file__).parent))
from extract_job import DESCRIPTOR
from http_load import MASTER_KEY, free_port, reset_database

REPOSITORY = Path(__file__).resolve().parents[1]

def _client(env: dict[str, str]) -> tuple[str, str]:
    app = create_app({"DATABASE_URL": env["MARKETPLACE_DATABASE_URL"], "SECRET_KEY": "bench",
                      "DATA_DIR": Path(env["MARKETPLACE_DATA_DIR"]), "MASTER_KEY": MASTER_KEY,
                      "EXTRACTS_INLINE": False})
    with session_scope(app) as session:
        holder = identity.create_org(session, slug="bench-hospital", name="Hospital",
                                     kind="regional", country="DK", accredited=True)
        issued = identity.create_api_client(session, keyring=app.extensions[
            "marketplace.keyring"], org=holder, scopes="catalog:write")
        return issued.client.client_id, issued.secret


def _token(port: int, client_id: str, secret: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    connection.request("POST", "/oauth/token", body="grant_type=client_credentials",
                       headers={"Authorization": f"Basic {basic}",
                                "Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(connection.getresponse().read())["access_token"]


def _writer(port: int, token: str, count: int, tag: str, latencies: list[float],
            errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for number in range(count):
        body = json.dumps({**DESCRIPTOR, "title": f"Indlæggelser {tag}-{number}"})
        started = time.perf_counter()
        try:
            connection.request("POST", "/api/v1/datasets", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                errors.append(str(response.status))
        except (OSError, http.client.HTTPException) as error:
            errors.append(type(error).__name__)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        latencies.append(time.perf_counter() - started)


def scenario(port: int, token: str, writers: int, per_writer: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=_writer, args=(port, token, per_writer,
                                                      f"{writers}w{i}", latencies, errors))
               for i in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(ordered), "per_s": len(ordered) / elapsed,
            "p50": statistics.median(ordered) * 1000,
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 drafts per writer")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    per_writer = 20 if args.quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        reset_database(url)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")},
               "PYTHONPATH": str(REPOSITORY), "MARKETPLACE_DATABASE_URL": url,
               "MARKETPLACE_DATA_DIR": f"{tmp}/data", "MARKETPLACE_INSTANCE_PATH": tmp,
               "MARKETPLACE_SECRET_KEY": "bench", "MARKETPLACE_MASTER_KEY": MASTER_KEY,
               "MARKETPLACE_LOG_LEVEL": "WARNING"}
        client_id, secret = _client(env)
        port = free_port()
        log = Path(tmp) / "server.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "marketplace", "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4"], env=env, stdout=subprocess.DEVNULL,
            stderr=log.open("w"))
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    token = _token(port, client_id, secret)
                    break
                except OSError as error:
                    if server.poll() is not None or time.monotonic() > deadline:
                        server.kill()
                        raise SystemExit(f"the server did not start: {log.read_text()}"
                                         ) from error
                    time.sleep(0.3)
            scenario(port, token, 2, 3)  # warm both processes up
            one = scenario(port, token, 1, per_writer)
            eight = scenario(port, token, 8, per_writer)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print(f"database {url.split(':')[0]}; {per_writer} drafts per writer; gunicorn 2x4")
    for name, result in (("1 writer ", one), ("8 writers", eight)):
        print(f"{name}: {result['requests']:5.0f} requests, {result['per_s']:6.1f}/s, "
              f"p50 {result['p50']:7.1f} ms, p99 {result['p99']:7.1f} ms, "
              f"errors {result['errors']:.0f}")
    print(f"RATIO 8/1 writers: throughput {eight['per_s'] / one['per_s']:.2f}x, "
          f"p50 {eight['p50'] / one['p50']:.2f}x (errors with 8 writers: "
          f"{eight['errors']:.0f}, target 0)")


if __name__ == "__main__":
    main()
