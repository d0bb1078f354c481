"""Benchmark: rank 1,000 test environments for one solution profile.

Prints the median time of several runs of the indexed ranking (environments analysed once,
reasons spelled out for the 20 shown) and of a naive baseline that analyses every environment's
text from scratch for each query and explains every environment, and the ratio between them.
Target: the indexed ranking of 1,000 environments stays under 50 ms.

    .venv/bin/python bench/testbeds_match.py [--quick]
"""
import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.testbeds.matching import (
    EnvironmentFacts,
    EnvironmentIndex,
    Profile,
    Vocabulary,
)
from marketplace.testbeds.seed_data import ENVIRONMENTS_PATH

PROFILE = Profile(
    themes=frozenset({"home_treatment"}),
    target_groups=frozenset({"chronically_ill"}),
    needs=frozenset({"patients", "data", "citizens"}),
    trl=6,
    description="A COPD tele-monitoring app: patients measure oxygen saturation at home and "
                "nurses follow up remotely, so that admissions are prevented.",
)


def synthetic_environments(vocabulary: Vocabulary, count: int, seed: int) -> list[EnvironmentFacts]:
    """Environments whose texts mix the region's real descriptions with vocabulary labels."""
    rng = random.Random(seed)
    specs = json.loads(ENVIRONMENTS_PATH.read_text(encoding="utf-8"))["environments"]
    labels = [c.label_da for c in vocabulary.concepts.values()]
    labels += [c.label_en for c in vocabulary.concepts.values()]
    environments = []
    for number in range(1, count + 1):
        spec = rng.choice(specs)
        words = rng.sample(labels, 12)
        environments.append(EnvironmentFacts(
            id=number,
            text=" ".join([spec["name_da"], spec["description_da"], *words]),
            themes=frozenset(rng.sample(sorted(vocabulary.themes), 3)),
            target_groups=frozenset(rng.sample(sorted(vocabulary.target_groups), 3)),
            resources=frozenset(rng.sample(sorted(vocabulary.needs), 3)),
            facilities=frozenset(rng.sample(sorted(vocabulary.facilities), 3)),
            host_sectors=frozenset(rng.sample(sorted(vocabulary.sectors), 2)),
            dataset_count=rng.randint(0, 4),
            capacity=10,
            free_slots=rng.randint(0, 10),
            trl_min=rng.randint(1, 5),
            trl_max=rng.randint(6, 9),
        ))
    return environments


def median_ms(function, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (seconds)")
    parser.add_argument("--environments", type=int, default=1_000)
    args = parser.parse_args()
    runs = 5 if args.quick else 25
    vocabulary = Vocabulary.load()
    environments = synthetic_environments(vocabulary, args.environments, seed=7)

    cold_ms = median_ms(lambda: EnvironmentIndex(vocabulary, environments), 1)
    # A new course changes free slots, not texts: the rebuild reuses each text's analysis.
    build_ms = median_ms(lambda: EnvironmentIndex(vocabulary, environments), 3)
    index = EnvironmentIndex(vocabulary, environments)
    indexed_ms = median_ms(lambda: index.rank(PROFILE, limit=20), runs)
    # Baseline: a fresh vocabulary (no remembered words or texts) analyses every text again
    # and every environment is explained.
    naive_ms = median_ms(
        lambda: EnvironmentIndex(Vocabulary.load(), environments).rank(PROFILE),
        max(3, runs // 5),
    )
    print(f"environments: {len(environments)}  runs: {runs}")
    print(f"index build, texts not seen before:            median {cold_ms:8.2f} ms")
    print(f"index rebuild after a change of free slots:    median {build_ms:8.2f} ms")
    print(f"naive baseline (analyse and explain all):      median {naive_ms:8.2f} ms")
    print(f"indexed ranking, top 20 explained:             median {indexed_ms:8.2f} ms")
    print(f"ratio baseline / indexed: {naive_ms / indexed_ms:.1f}x")
    verdict = "OK" if indexed_ms < 50 else "OVER BUDGET"
    print(f"budget 50 ms per ranking: {verdict}")


if __name__ == "__main__":
    main()
