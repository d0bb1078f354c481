"""The cohort estimate the access engine decides on: right counts, kept per version and day."""
from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest

from marketplace.consent import services as consent_services
from marketplace.db import utcnow
from marketplace.delivery import cohorts, generalise
from marketplace.identity import services as identity_services


@pytest.fixture(autouse=True)
def fresh_caches():
    cohorts.clear_caches()
    yield
    cohorts.clear_caches()


@pytest.fixture
def estimate(session, world, keyring, data_dir):
    def run(cohort=None, purpose="company_research", as_of=None):
        return cohorts.estimate_cohort_size(
            session, dataset=world.dataset, cohort=cohort or {}, purpose=purpose,
            as_of=as_of or utcnow(), keyring=keyring, data_dir=data_dir)

    return run


def _people(frame: pd.DataFrame) -> int:
    return frame["cpr"].nunique()


def test_cohort_size_counts_distinct_citizens_after_consent(session, world, estimate,
                                                           make_citizen):
    everyone = _people(world.data)
    assert estimate() == everyone
    citizen, _ = make_citizen(cpr=str(world.data["cpr"].iloc[0]))
    consent_services.set_opt_out(session, actor=identity_services.citizen_principal(citizen),
                                 opted_out=True, now=utcnow() - timedelta(seconds=5))
    after = estimate()
    assert after == everyone - 1  # a consent change is seen at once, though estimates are kept
    women = estimate({"sex": ["female"]})
    assert 0 < women < after


@pytest.mark.parametrize("cohort", [
    {"age": [40, 70]}, {"age": [0, 17]}, {"sex": ["male"], "age": [18, 130]},
    {"diagnoses": ["DJ"]}, {"period": {"start": "2021-01-01", "end": "2022-06-30"}},
])
def test_each_criterion_counts_what_the_data_says(world, estimate, cohort):
    frame = world.data
    today = utcnow().date()
    keep = pd.Series(True, index=frame.index)
    if "age" in cohort:
        ages = generalise.age_years(frame["birth_date"], today)
        keep &= ages.between(*cohort["age"])
    if "sex" in cohort:
        keep &= frame["sex"].str.lower().isin({"male", "m", "mand"})
    if "diagnoses" in cohort:
        keep &= frame["diagnosis"].str.upper().str.startswith("DJ")
    if "period" in cohort:
        moments = pd.to_datetime(frame["admission_date"])
        keep &= moments.between(pd.Timestamp(cohort["period"]["start"]),
                                pd.Timestamp(cohort["period"]["end"]))
    assert estimate(cohort) == _people(frame[keep])
    assert estimate(cohort) == _people(frame[keep])  # the kept answer is the same


def test_ages_follow_the_day_of_the_estimate(world, estimate):
    frame = world.data
    later = utcnow() + timedelta(days=3 * 365)
    ages = generalise.age_years(frame["birth_date"], later.date())
    assert estimate({"age": [50, 60]}, as_of=later) == _people(frame[ages.between(50, 60)])


def test_a_new_data_version_is_counted_afresh(world, estimate, upload):
    assert estimate() == _people(world.data)
    fewer = world.data.head(40)
    upload(world.holder_actor, world.dataset, fewer.to_csv(index=False))
    assert estimate() == _people(fewer)


def test_kept_columns_stay_within_their_bounds():
    kept = cohorts._Lru[int](entries=2, max_bytes=100)
    kept.put("a", 1, size=60)
    kept.put("b", 2, size=60)
    assert kept.get("a") is None and kept.get("b") == 2
    kept.put("c", 3)
    kept.put("d", 4)
    assert kept.get("b") is None and kept.get("d") == 4


def test_a_warmed_server_estimates_without_decrypting_again(session, world, estimate, keyring,
                                                            data_dir, monkeypatch):
    """A server decodes the published versions before its workers start, not per request."""
    from marketplace.catalog import services as catalog_services

    assert cohorts.warm(session, keyring=keyring, data_dir=data_dir) >= 1

    def refuse(*args, **kwargs):
        raise AssertionError("the version was decrypted again")

    monkeypatch.setattr(catalog_services, "read_version_frames", refuse)
    assert estimate() == _people(world.data)


def test_estimates_for_several_datasets_say_none_where_the_count_cannot_be_known(
        session, world, keyring, data_dir):
    """The access engine asks for every dataset of an application at once; a dataset without a
    valid version, or with a tampered one, gets no count (a deny), the others theirs."""
    from marketplace.catalog import services as catalog_services
    from marketplace.catalog.descriptor import Descriptor
    from tests.delivery.conftest import admissions_csv, descriptor

    empty = catalog_services.create_dataset(session, actor=world.holder_actor,
                                            descriptor=Descriptor.model_validate(descriptor()))
    tampered = catalog_services.create_dataset(session, actor=world.holder_actor,
                                               descriptor=Descriptor.model_validate(descriptor()))
    text, _ = admissions_csv(seed=8)  # other content: decoded versions are kept by their hash
    catalog_services.upload_version(
        session, actor=world.holder_actor, dataset_id=tampered.id,
        stream=io.BytesIO(text.encode()), media_type="text/csv", keyring=keyring,
        data_dir=data_dir, max_bytes=50_000_000)
    path = catalog_services.version_path(
        catalog_services.current_version(session, dataset=tampered), data_dir=data_dir)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))

    sizes = cohorts.estimate_cohort_sizes(
        session, datasets=[world.dataset, empty, tampered], cohort={},
        purpose="company_research", as_of=utcnow(), keyring=keyring, data_dir=data_dir)
    assert sizes == {world.dataset.id: _people(world.data), empty.id: None, tampered.id: None}
