"""Anonymised extracts through the job: what the manifest tells, the CSV's signed hash, a
Parquet upload's formula cells, and a permit's other datasets in the assessment."""
from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest

from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.db import utcnow
from marketplace.delivery import output, services, synthetic
from marketplace.errors import Invalid
from tests.delivery.conftest import admissions_csv, descriptor


def _build(session, world, build, permit, dataset_id=None):
    extract = services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                       dataset_id=dataset_id, now=utcnow())
    built = build(extract.id)
    assert built.status == "succeeded", built.error
    return built


def _download(session, world, built, fmt, keyring, data_dir) -> bytes:
    download = services.download_extract(session, actor=world.company_actor,
                                         extract_id=built.id, fmt=fmt, keyring=keyring,
                                         data_dir=data_dir, now=utcnow())
    return b"".join(download.body)


def test_the_manifest_tells_generalisation_drops_and_risk(session, world, build, keyring,
                                                          data_dir):
    built = _build(session, world, build, world.make_permit(
        cohort={"sex": ["female"]}))
    manifest = built.manifest
    assert output.verify_manifest(manifest, public_key_b64=keyring.public_key_b64)
    assert set(manifest["generalisation"]) == {"pseudonym", "birth_date", "sex", "postcode",
                                               "admission_date", "diagnosis", "length_of_stay"}
    dropped = manifest["rows_dropped"]
    females = int((world.data["sex"].astype(str) == "female").sum())
    assert dropped["cohort"] == len(world.data) - females
    assert dropped["suppression"] == manifest["rows_suppressed"]
    assert manifest["rows_out"] == females - dropped["consent"] - dropped["suppression"]
    assert manifest["risk"]["max_prosecutor_risk"] <= 1 / manifest["k_required"]
    assert manifest["risk"]["unique_persons_share"] == 0
    assert manifest["risk_before"]["unique_persons_share"] > manifest["risk"][
        "unique_persons_share"]
    csv = _download(session, world, built, "csv", keyring, data_dir)
    assert hashlib.sha256(csv).hexdigest() == manifest["csv_sha256"]
    parquet = _download(session, world, built, "parquet", keyring, data_dir)
    assert hashlib.sha256(parquet).hexdigest() == manifest["sha256"]


def test_formula_cells_of_a_parquet_upload_never_reach_an_extract(session, world, upload,
                                                                    keyring, data_dir):
    """Parquet gets the CSV's formula check at ingest: such a file is refused, nothing kept."""
    columns = [dict(c) for c in synthetic.ADMISSION_COLUMNS] + [
        {"name": "comment", "type": "string", "role": "attribute"}]
    dataset = catalog_services.create_dataset(session, actor=world.holder_actor,
                                              descriptor=Descriptor.model_validate(
                                                  descriptor(columns=columns)))
    _, frame = admissions_csv(rows=300, persons=60, seed=3)
    frame["comment"] = ['=HYPERLINK("http://evil.example","klik")', "ok", "@SUM(A1)"] * 100
    sink = io.BytesIO()
    frame.astype({c: str for c in frame.columns if c != "length_of_stay"}).to_parquet(
        sink, index=False)
    with pytest.raises(Invalid) as refused:
        catalog_services.upload_version(
            session, actor=world.holder_actor, dataset_id=dataset.id,
            stream=io.BytesIO(sink.getvalue()), media_type="application/vnd.apache.parquet",
            keyring=keyring, data_dir=data_dir, max_bytes=50_000_000)
    assert refused.value.errors[0]["field"] == "comment"
    assert catalog_services.current_version(session, dataset=dataset) is None


def test_the_permits_other_datasets_join_each_persons_record(session, world, build, upload,
                                                             keyring, data_dir):
    second = catalog_services.create_dataset(session, actor=world.holder_actor,
                                             descriptor=Descriptor.model_validate(
                                                 descriptor(title="Genindlæggelser")))
    upload(world.holder_actor, second, admissions_csv(seed=8)[0])
    catalog_services.publish_dataset(session, actor=world.holder_actor, dataset_id=second.id)
    alone = _build(session, world, build, world.make_permit())
    together = _build(session, world, build, world.make_permit(datasets=[world.dataset, second]),
                      dataset_id=world.dataset.id)
    assert alone.manifest["datasets_assessed"] == 1
    # Its own two datasets, and what the company already received under the first permit.
    assert together.manifest["datasets_assessed"] == 3
    assert together.manifest["persons_in"] >= alone.manifest["persons_in"]
    # A longer record is harder to hide: never less generalised, never fewer suppressed.
    assert (sum(together.report["generalisation"].values()),
            together.manifest["rows_suppressed"]) >= (
        sum(alone.report["generalisation"].values()), 0)



def test_records_unite_when_datasets_label_a_column_with_different_types():
    # One dataset labels a quasi-identifier with numbers, another lacks it (an all-missing
    # filler): the whole-person record still unites them instead of failing the extract.
    from marketplace.delivery import pipeline

    numbers = pd.DataFrame({"band": pd.Categorical([1, 2]), "n": [1, 2]})
    without = pd.DataFrame({"n": [3]})
    for unknown in ((), ("band",)):
        stacked = pipeline._stack([numbers, without], ["band", "n"], unknown=unknown)
        assert list(stacked["n"]) == [1, 2, 3]
        assert list(stacked["band"][:2].astype(str)) == ["1", "2"]
