"""How many access decisions the Cedar engine makes per second, in process.

Workload: applications from a mix of requesters (Danish, foreign, unaccredited, public) for a mix
of datasets (every DUO permission and modifier the policies read), purposes from the taxonomy
(prohibited ones included), columns, durations, pseudonymisation and cohort sizes; one dataset
per application, so one decision is one Cedar request. Every application differs from the
others (cohort sizes and durations vary), so nothing is answered from a cache.

Baseline, measured in the same run: the naive use of cedarpy, one `is_authorized` call per
decision with the policy text and schema text parsed on every call.

    .venv/bin/python bench/access_engine.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cedarpy

from marketplace.access import decisions

TODAY = date(2026, 11, 22)
COLUMNS = [
    {"name": "cpr", "role": "direct_identifier", "identifier_kind": "cpr"},
    {"name": "name", "role": "direct_identifier", "identifier_kind": "name"},
    {"name": "birth_date", "role": "quasi_identifier"},
    {"name": "sex", "role": "quasi_identifier"},
    {"name": "postcode", "role": "quasi_identifier"},
    {"name": "diagnosis", "role": "sensitive"},
    {"name": "notes", "role": "attribute", "shareable": False},
]
DATA_USES = [
    {"permission": "GRU"}, {"permission": "NRES"}, {"permission": "HMB"},
    {"permission": "HMB", "modifiers": ["NCU"]}, {"permission": "GRU", "modifiers": ["NPU"]},
    {"permission": "DS", "diseases": ["DJ44", "DI50"], "modifiers": ["IRB"]},
    {"permission": "DS", "diseases": ["DC34"]}, {"permission": "POA"},
    {"permission": "GRU", "modifiers": ["GS(EU)", "TS:24", "PUB"]},
    {"permission": "HMB", "modifiers": ["COL", "RTN", "MOR"]},
]
REQUESTERS = [
    decisions.RequesterFacts("pulmo-monitor", "company", "DK", True),
    decisions.RequesterFacts("carebridge", "company", "DE", True),
    decisions.RequesterFacts("lumen-care", "company", "DK", False),
    decisions.RequesterFacts("region-hovedstaden", "regional", "DK", True),
    decisions.RequesterFacts("boston-health", "company", "US", True),
]
COLUMN_CHOICES = [("birth_date", "sex"), ("birth_date", "sex", "diagnosis"), ("cpr", "sex"),
                  ("postcode", "diagnosis"), ("sex", "notes"), ("name", "sex")]
DISEASES = [(), (), ("DJ449",), ("DJ44", "DI501"), ("DC",), ("DC341",)]


def purposes() -> list[decisions.PurposeFacts]:
    taxonomy = json.loads((decisions.POLICY_DIR / "purposes.json").read_text("utf-8"))
    return [decisions.PurposeFacts(code=p["code"], prohibited=p["prohibited"],
                                   commercial=p["commercial"],
                                   public_bodies_only=p["public_bodies_only"], duo=p["duo"])
            for p in taxonomy["purposes"]]


def workload(n: int, seed: int = 7) -> list[decisions.Case]:
    rng = random.Random(seed)
    datasets = [decisions.dataset_facts(
        dataset_id=i + 1, status="published",
        access_rights=rng.choice(["RESTRICTED", "NON_PUBLIC"]), data_use=use,
        k_min=rng.choice([5, 10]), columns=COLUMNS, subject_column="cpr", as_of=TODAY)
        for i, use in enumerate(DATA_USES)]
    taxonomy = purposes()
    cases = []
    for _ in range(n):
        application = decisions.ApplicationFacts(
            purpose=rng.choice(taxonomy), diseases=rng.choice(DISEASES),
            duration_days=rng.randint(30, 1500), pseudonymised=rng.random() < 0.3,
            pseudonymisation_justified=rng.random() < 0.8, ethics_approval=rng.random() < 0.5,
            for_test_environment=rng.random() < 0.5)
        request = decisions.DatasetRequest(rng.choice(datasets), rng.choice(COLUMN_CHOICES),
                                           rng.randint(0, 5000))
        cases.append((rng.choice(REQUESTERS), application, [request]))
    return cases


def engine_rate(bundle: decisions.PolicyBundle, cases: list, batch: int,
                clock=time.perf_counter) -> float:
    started = clock()
    for start in range(0, len(cases), batch):
        decisions.decide_many(bundle, cases[start:start + batch])
    return len(cases) / (clock() - started)


def naive_rate(cases: list) -> float:
    """One cedarpy call per decision, parsing the policies and schema each time."""
    policies, schema, _ = decisions.bundle_sources(decisions.POLICY_DIR)
    started = time.perf_counter()
    for case in cases:
        requests, entities = decisions.cedar_batch([case])
        for request in requests:
            cedarpy.is_authorized(request, policies, entities, schema=schema)
    return len(cases) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run for CI (seconds)")
    args = parser.parse_args()
    n, runs, naive_n = (2_000, 3, 200) if args.quick else (20_000, 5, 1_000)
    bundle = decisions.load_policy_bundle()
    cases = workload(n)
    outcomes = statistics.multimode(d.outcome for d in decisions.decide_many(bundle, cases))
    engine = [engine_rate(bundle, cases, batch=1_000) for _ in range(runs)]
    # CPU time of this process: the engine's own cost when other work shares the cores.
    engine_cpu = [engine_rate(bundle, cases, batch=1_000, clock=time.process_time)
                  for _ in range(runs)]
    single = [engine_rate(bundle, cases[:naive_n], batch=1) for _ in range(runs)]
    naive = [naive_rate(cases[:naive_n]) for _ in range(runs)]
    engine_median, naive_median = statistics.median(engine), statistics.median(naive)
    print(f"workload: {n} applications, {len(bundle.rules)} rules, most common outcome "
          f"{outcomes[0]}; {runs} runs each")
    print(f"engine, batches of 1000:   median {engine_median:>9,.0f} decisions/s")
    print(f"engine, batches, CPU time: median {statistics.median(engine_cpu):>9,.0f} "
          "decisions per CPU-second")
    print(f"engine, one at a time:     median {statistics.median(single):>9,.0f} decisions/s")
    print(f"baseline (naive cedarpy):  median {naive_median:>9,.0f} decisions/s")
    print(f"ratio engine/baseline: {engine_median / naive_median:.1f}x; "
          f"target 10,000/s {'met' if engine_median >= 10_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
