"""The demo catalog: realistic datasets, linked through the population's CPR numbers."""
from __future__ import annotations

import sqlalchemy as sa

from marketplace.catalog import demo, services
from marketplace.catalog.models import Dataset, DataVersion


def _frame(session, world, slug):
    dataset = session.scalars(sa.select(Dataset).where(
        Dataset.publisher_org_id == world.orgs[slug].id)).one()
    version = services.current_version(session, dataset=dataset)
    return dataset, next(services.read_version_frames(version, keyring=world.keyring,
                                                      data_dir=world.data_dir))


def test_demo_publishes_every_level_and_is_idempotent(session, demo_world):
    counts = services.count_published_by_level(session)
    assert counts["national"] >= 1 and counts["regional"] >= 3 and counts["municipal"] >= 3
    versions = session.scalar(sa.select(sa.func.count()).select_from(DataVersion))
    demo.seed_demo(session, demo_world)
    assert session.scalar(sa.select(sa.func.count()).select_from(DataVersion)) == versions


def test_datasets_of_different_holders_join_on_the_citizen(session, demo_world):
    _register, national = _frame(session, demo_world, "sundhedsdatastyrelsen")
    herlev, admissions = _frame(session, demo_world, "herlev-hospital")
    shared = set(national["_subject_key"]) & set(admissions["_subject_key"])
    assert shared, "no citizen appears in both the register and the Herlev admissions"
    demo_key = demo_world.keyring.blind_index("0703851234")
    assert demo_key in shared
    assert herlev.data_use == {"permission": "DS", "diseases": ["DJ44", "DI50"],
                               "modifiers": ["IRB"]}
    assert set(admissions["diagnosis"].str[:4]) <= {"DJ44", "DI50"}
    concepts = {c.get("concept") for c in herlev.columns}
    assert {"birth_date", "sex", "diagnosis", "postcode", "event_date"} <= concepts


def test_bulk_descriptors_fill_the_catalog_once(session, demo_world):
    demo.seed_bulk_descriptors(session, demo_world, 50)
    demo.seed_bulk_descriptors(session, demo_world, 50)
    total = services.search_datasets(session, query=services.SearchQuery(per_page=1)).total
    assert total == 50 + 7
