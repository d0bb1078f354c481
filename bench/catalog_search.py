"""Catalog search in the service, with 10,000 published descriptors.

Run: .venv/bin/python bench/catalog_search.py [--quick] [--size N]

Seeds the demo organisations and N generated descriptors into a fresh SQLite database and times
`catalog.services.search_catalog` (what GET /api/v1/datasets calls) over a mix of searches: free
text, each facet, deep pages. Each search is answered the way the API answers it, public
descriptors included. The baseline, in the same run on the same catalog, is the naive service:
SQL `LIKE` for the text, one `GROUP BY` per facet, ORM objects for the page. Prints the median
and p99 per call and the ratio. (The HTTP load test under gunicorn lives with the operations
benches.)
"""
import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace import create_app, schema
from marketplace.catalog import demo as catalog_demo
from marketplace.catalog import services
from marketplace.catalog.models import Dataset, DatasetTag
from marketplace.catalog.search import SearchQuery
from marketplace.db import session_scope
from marketplace.identity import demo as identity_demo
from marketplace.identity.models import Organisation
from marketplace.security import current_keyring

SEARCHES = (
    SearchQuery(),
    SearchQuery(q="kol"),
    SearchQuery(q="hjertesvigt kardiologi"),
    SearchQuery(q="demens", publisher_level=("municipal",)),
    SearchQuery(theme=("SOCI",), access_rights=("RESTRICTED",)),
    SearchQuery(health_category=("REGISTRY",), page=5),
    SearchQuery(publisher_level=("national",), per_page=100),
    SearchQuery(q="register", page=20, per_page=50),
    SearchQuery(q="ingenting-matcher-dette"),
    SearchQuery(q="kræft", theme=("HEAL",), health_category=("EHR",)),
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


def naive_search(session, query: SearchQuery) -> dict:
    """Search with SQL only: LIKE per term, a GROUP BY per facet, ORM objects for the page."""
    where = [Dataset.status == "published"]
    where += [Dataset.search_text.like(f"%{term}%") for term in query.terms]
    if query.publisher_level:
        where.append(Organisation.kind.in_(query.publisher_level))
    if query.access_rights:
        where.append(Dataset.access_rights.in_(query.access_rights))
    for facet, chosen in (("theme", query.theme), ("health_category", query.health_category)):
        if chosen:
            where.append(Dataset.id.in_(sa.select(DatasetTag.dataset_id).where(
                DatasetTag.facet == facet, DatasetTag.code.in_(chosen))))
    base = sa.select(Dataset.id).join(Organisation, Dataset.publisher_org_id == Organisation.id
                                      ).where(*where)
    matching = base.subquery()
    total = session.scalar(sa.select(sa.func.count()).select_from(matching))
    facets = {
        "publisher_level": dict(session.execute(
            sa.select(Organisation.kind, sa.func.count()).select_from(Dataset)
            .join(Organisation, Dataset.publisher_org_id == Organisation.id)
            .where(Dataset.id.in_(sa.select(matching.c.id))).group_by(Organisation.kind)).all()),
        "access_rights": dict(session.execute(
            sa.select(Dataset.access_rights, sa.func.count())
            .where(Dataset.id.in_(sa.select(matching.c.id)))
            .group_by(Dataset.access_rights)).all()),
    }
    for facet in ("theme", "health_category"):
        facets[facet] = dict(session.execute(
            sa.select(DatasetTag.code, sa.func.count()).where(
                DatasetTag.facet == facet, DatasetTag.dataset_id.in_(sa.select(matching.c.id)))
            .group_by(DatasetTag.code)).all())
    page = session.scalars(
        sa.select(Dataset).where(Dataset.id.in_(sa.select(matching.c.id)))
        .order_by(Dataset.published_at.desc(), Dataset.id.desc())
        .offset((query.page - 1) * query.per_page).limit(query.per_page)).all()
    return {"items": [services.dataset_to_json(d) for d in page], "total": total,
            "facets": facets}


def time_calls(call, rounds: int) -> list[float]:
    timings = []
    for query in itertools.islice(itertools.cycle(SEARCHES), rounds):
        start = time.perf_counter()
        call(query)
        timings.append(time.perf_counter() - start)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(name: str, timings: list[float]) -> float:
    median = statistics.median(timings)
    print(f"{name:34} median {median * 1000:7.2f} ms   p99 {percentile(timings, 0.99) * 1000:7.2f}"
          f" ms   ({len(timings)} calls, {1 / median:8.0f} calls/s in one process)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 descriptors, fewer calls")
    parser.add_argument("--size", type=int, default=None)
    args = parser.parse_args()
    size = args.size or (2_000 if args.quick else 10_000)
    rounds = 200 if args.quick else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), size)
        print(f"catalog of {size:,} published descriptors (SQLite); {len(SEARCHES)} searches")
        with app.app_context():
            with session_scope(app) as session:  # the first search builds the index
                start = time.perf_counter()
                services.search_catalog(session, query=SearchQuery())
                print(f"first search (builds the index)    {time.perf_counter() - start:7.2f} s")

            def service(query: SearchQuery) -> None:
                with session_scope(app) as session:  # one session per request, as in the app
                    services.search_catalog(session, query=query)

            def naive(query: SearchQuery) -> None:
                with session_scope(app) as session:
                    naive_search(session, query)

            ours = report("search_catalog (index + caches)", time_calls(service, rounds))
            base = report("baseline (SQL LIKE + GROUP BY + ORM)",
                          time_calls(naive, max(len(SEARCHES), rounds // 4)))
            print(f"speed-up {base / ours:.1f}x")


if __name__ == "__main__":
    main()
