"""CPU per statement of the access application's busiest statements, run on PostgreSQL's driver
(marketplace/statements.py) against the same statements run through SQLAlchemy's execution
(the baseline), in the same process, interleaved round by round.

Prints, per statement: microseconds of this process's CPU per execution (median of the rounds)
both ways and the driver's share of the baseline's.

    MARKETPLACE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/driver_statements.py [--rounds N] [--executions N]

The database named is emptied first and given the demo world.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from http_load import prepare_database  # noqa: E402

from marketplace.db import create_engine_for, utcnow  # noqa: E402
from marketplace.delivery import cohorts  # noqa: E402
from marketplace.identity import services as identity_services  # noqa: E402
from marketplace.notifications.models import Notification  # noqa: E402
from marketplace.statements import DriverStatement, insert_rows  # noqa: E402

# A token's hash as stored (not a secret: no token has it).
BENCH_TOKEN_HASH = "0" * 64
Case = tuple[str, Callable[[sa.Connection], Any], Callable[[sa.Connection], Any]]


def cases(connection: sa.Connection) -> list[Case]:
    """(name, through SQLAlchemy, on the driver) for each statement."""
    datasets = list(connection.scalars(sa.text("SELECT id FROM dataset ORDER BY id LIMIT 2")))
    user_id = connection.scalar(sa.text("SELECT id FROM app_user ORDER BY id LIMIT 1"))
    table = Notification.__table__
    # What the service ran before: SQLAlchemy's insert, keys in the rows' order.
    baseline_insert = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)

    def select(statement: DriverStatement, params: dict[str, Any]) -> Case:
        return ("", lambda c: c.execute(statement.statement, params).all(),
                lambda c: statement.rows(c, params))

    def row() -> list[dict[str, Any]]:
        return [{"user_id": user_id, "kind": "job_finished", "params": {"job": 1},
                 "link": "/jobs/1", "in_inbox": True, "created_at": utcnow()}]

    token = select(identity_services._TOKEN, {"token_hash": BENCH_TOKEN_HASH})
    versions = select(cohorts._CURRENT_VERSIONS_AND_CONSENT, {"dataset_ids": datasets})
    return [
        ("token and organisation (SELECT)", token[1], token[2]),
        ("versions and consent state (SELECT)", versions[1], versions[2]),
        ("a notification (INSERT RETURNING)",
         lambda c: c.execute(baseline_insert, row()).scalars().all(),
         lambda c: insert_rows(c, table, row(), returning=table.c.id)),
    ]


def cpu_micros(run: Callable[[sa.Connection], Any], connection: sa.Connection,
               executions: int) -> float:
    started = time.process_time()
    for _ in range(executions):
        run(connection)
    return (time.process_time() - started) / executions * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "MARKETPLACE_BENCH_POSTGRES_URL") or os.environ.get("MARKETPLACE_TEST_POSTGRES_URL"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--executions", type=int, default=2000)
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("name a PostgreSQL database: --database-url or "
                         "MARKETPLACE_BENCH_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as folder:
        prepare_database(args.database_url, Path(folder), 300)
    engine = create_engine_for(args.database_url)
    with engine.connect() as connection:
        # A client token, as the load benchmark has: the lookup finds a row.
        connection.execute(sa.text(
            "INSERT INTO api_token (token_hash, client_id, scopes, issued_at, expires_at, revoked)"
            " SELECT :hash, id, 'access:request', now(), now() + interval '1 hour', false"
            " FROM api_client LIMIT 1"), {"hash": BENCH_TOKEN_HASH})
        measured = cases(connection)
        figures: dict[str, tuple[list[float], list[float]]] = {
            name: ([], []) for name, _, _ in measured}
        for _ in range(3):  # warm-up: compiled forms cached, statements prepared
            for _, through, driver in measured:
                cpu_micros(through, connection, 10)
                cpu_micros(driver, connection, 10)
        for round_number in range(args.rounds):
            for name, through, driver in measured:
                order = [(0, through), (1, driver)]
                for slot, run in order if round_number % 2 == 0 else order[::-1]:
                    figures[name][slot].append(cpu_micros(run, connection, args.executions))
        connection.rollback()
    engine.dispose()
    print(f"CPU per execution, median of {args.rounds} rounds of {args.executions}")
    print(f"{'statement':40} {'SQLAlchemy µs':>14} {'driver µs':>10} {'driver/base':>12}")
    for name, (through, driver) in figures.items():
        base, fast = statistics.median(through), statistics.median(driver)
        print(f"{name:40} {base:14.1f} {fast:10.1f} {fast / base:12.2f}")


if __name__ == "__main__":
    main()
