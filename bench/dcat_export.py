"""The first HealthDCAT-AP export of a large catalog, Turtle and JSON-LD.

Run: .venv/bin/python bench/dcat_export.py [--quick] [--size N]

Seeds the demo organisations and N generated published descriptors into a fresh SQLite
database and times `catalog.services.export_catalog` with its cache emptied (the first export
after a change). The baseline, in the same run on the same catalog, is the way the export used
to be made: ORM objects serialised to descriptor dicts, loaded into an rdflib graph and written
by rdflib's serialisers. Prints medians (wall and CPU seconds) and the ratio.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import create_app, schema
from marketplace.catalog import dcat, services
from marketplace.catalog import demo as catalog_demo
from marketplace.db import session_scope
from marketplace.identity import demo as identity_demo
from marketplace.security import current_keyring

TITLE = "Sundhedsdatakatalog for Region Hovedstaden"
BASE_URL = "http://127.0.0.1:5000/"


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


def _rdflib_term(term: str):
    """The rdflib term of one written as N-Triples writes it (its quoted text is JSON)."""
    if term.startswith("<"):
        return URIRef(term[1:-1])
    if term.startswith("_:"):
        return BNode(term[2:])
    end = term.rindex('"') + 1
    text, suffix = json.loads(term[:end]), term[end:]
    if suffix.startswith("^^"):
        return Literal(text, datatype=URIRef(suffix[3:-1]))
    return Literal(text, lang=suffix[1:] or None)


def naive_export(session, fmt: str) -> str:
    """The export as it was made before: ORM objects, an rdflib graph, rdflib's writers."""
    datasets = services.list_published_datasets(session)
    descriptors = [services.dataset_to_json(d, byte_size=0) for d in datasets]
    graph = Graph()
    graph.addN((_rdflib_term(s), _rdflib_term(p), _rdflib_term(o), graph)
               for s, p, o in dcat.build_triples(descriptors, base_url=BASE_URL, title=TITLE))
    if fmt == "jsonld":
        return graph.serialize(format="json-ld")
    return graph.serialize(format="nt")


def fresh_export(session, fmt: str) -> str:
    services._exports.clear()  # the first export after a change
    return services.export_catalog(session, base_url=BASE_URL, fmt=fmt)


def measure(run: Callable[[], str], repeats: int) -> tuple[float, float, int]:
    walls, cpus, size = [], [], 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        size = len(run())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 descriptors, fewer runs")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--baseline-size", type=int, default=None,
                        help="time the rdflib baseline on a smaller catalog and scale it "
                             "linearly (it takes minutes at 10,000)")
    args = parser.parse_args()
    size = args.size or (1_000 if args.quick else 10_000)
    repeats, baseline_repeats = (3, 1) if args.quick else (5, 2)
    baseline_size = min(args.baseline_size or size, size)
    scale = size / baseline_size
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), baseline_size)
        baselines = {}
        with app.app_context(), session_scope(app) as session:
            for fmt in ("ttl", "jsonld"):
                base_wall, base_cpu, _ = measure(lambda f=fmt: naive_export(session, f),
                                                 baseline_repeats)
                baselines[fmt] = (base_wall * scale, base_cpu * scale)
        if baseline_size != size:
            print(f"baseline timed on {baseline_size:,} descriptors, scaled x{scale:g}")
            with app.app_context(), session_scope(app) as session:
                catalog_demo.seed_bulk_descriptors(
                    session, identity_demo.DemoWorld(
                        orgs=identity_demo.seed_orgs_and_users(session),
                        population=None, keyring=current_keyring(), data_dir=Path(tmp) / "data"),
                    size)
        print(f"catalog of {size:,} published descriptors (SQLite)")
        with app.app_context(), session_scope(app) as session:
            for fmt in ("ttl", "jsonld"):
                wall, cpu, length = measure(lambda f=fmt: fresh_export(session, f), repeats)
                base_wall, base_cpu = baselines[fmt]
                print(f"{fmt:7} export   median {wall:6.2f} s wall {cpu:6.2f} s CPU  "
                      f"({length / 1e6:.1f} MB)")
                print(f"{fmt:7} baseline median {base_wall:6.2f} s wall {base_cpu:6.2f} s CPU  "
                      f"(rdflib graph and writer)")
                print(f"{fmt:7} speed-up {base_wall / wall:5.1f}x wall, "
                      f"{base_cpu / cpu:5.1f}x CPU")


if __name__ == "__main__":
    main()
