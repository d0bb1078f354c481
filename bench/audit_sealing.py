"""Sealing the audit chain on PostgreSQL: what one sealing transaction costs the process that
runs it, by how many entries wait, against appending those entries (the baseline, measured in
the same run on the same database).

Each round commits N waiting entries (as an access decision's transaction writes them) and then
seals them with `audit.seal_committed`, as the sealer thread does a moment after the commits.
Prints, per N: the median CPU milliseconds of this process for appending and for sealing, the
sealing's cost per entry, and sealing / appending. The sealer waits `GATHER_SECONDS` between
sealings, so under load one sealing serves every commit of that interval: its fixed cost is
paid once per interval, not once per request.

    .venv/bin/python bench/audit_sealing.py --database-url postgresql+psycopg://…/bench

The database named is emptied first.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import audit, create_app
from marketplace.db import session_scope

sys.path.insert(0, str(Path(__file__).parent))
from http_load import MASTER_KEY, reset_database

SIZES = (3, 12, 48, 192)  # one application's entries, and the commits of a busy interval
ROUNDS = 30


def _acts(count: int) -> list[dict]:
    return [{"actor": None, "action": "bench.decided", "subject_type": "access_request",
             "subject_id": str(number), "details": {"outcome": "permit", "round": 1,
                                                    "rules": ["purpose.allowed", "k.ok"]}}
            for number in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "MARKETPLACE_BENCH_POSTGRES_URL") or os.environ.get("MARKETPLACE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("name a PostgreSQL database: --database-url or "
                         "MARKETPLACE_BENCH_POSTGRES_URL")
    reset_database(args.database_url)
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update({"MARKETPLACE_DATABASE_URL": args.database_url,
                           "MARKETPLACE_DATA_DIR": str(Path(folder) / "data"),
                           "MARKETPLACE_INSTANCE_PATH": str(Path(folder) / "instance"),
                           "MARKETPLACE_SECRET_KEY": "bench", "MARKETPLACE_MASTER_KEY": MASTER_KEY})
        app = create_app()
        # Sealing is driven here, not by the thread a commit wakes.
        audit._Sealer.GATHER_SECONDS = 3600.0
        engine = app.extensions["marketplace.engine"]
        with session_scope(app) as session:
            key = audit.audit_key(session)
        print(f"{'entries':>7} {'append ms':>10} {'seal ms':>8} {'per entry':>10} "
              f"{'seal/append':>12}")
        for size in SIZES:
            appending, sealing = [], []
            for _ in range(ROUNDS):
                started = time.thread_time()
                with session_scope(app) as session:
                    audit.record_audits(session, _acts(size))
                    session.commit()
                appending.append(time.thread_time() - started)
                started = time.thread_time()
                sealed = audit.seal_committed(engine, key, wait=True)
                sealing.append(time.thread_time() - started)
                assert sealed == size, sealed
            append_ms = statistics.median(appending) * 1000
            seal_ms = statistics.median(sealing) * 1000
            print(f"{size:7d} {append_ms:10.2f} {seal_ms:8.2f} {seal_ms / size:10.3f} "
                  f"{seal_ms / append_ms:12.2f}")
        with session_scope(app) as session:
            result = audit.verify_audit_chain(session)
        print(f"chain verified: {result.ok}, {result.checked} entries, {result.waiting} waiting")
        engine.dispose()


if __name__ == "__main__":
    main()
