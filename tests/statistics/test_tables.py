"""Aggregation into cells and margins, and the derived groups."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from marketplace.statistics import tables

COLUMNS = [
    {"name": "birth_date", "type": "date", "concept": "birth_date"},
    {"name": "sex", "type": "category", "concept": "sex"},
    {"name": "postcode", "type": "string", "concept": "postcode"},
    {"name": "admission_date", "type": "date", "concept": "event_date"},
    {"name": "diagnosis", "type": "string", "concept": "diagnosis"},
    {"name": "stay", "type": "integer"},
    {"name": "cpr", "type": "string", "role": "direct_identifier"},
]


def test_icd10_chapters_of_icd10_and_sks_codes():
    codes = pd.Index(["J44", "DJ441", "C34", "D50", "DD50", "E11", "S72", "T98", "Z00", "x",
                      "", "U07"])
    assert tables.icd10_chapter(codes).tolist() == [
        "X", "X", "II", "III", "III", "IV", "XIX", "XIX", "XXI", "unknown", "unknown", "XXII"]


@pytest.mark.parametrize("name, column", [
    ("age_band", "birth_date"), ("municipality", "postcode"), ("region", "postcode"),
    ("year", "admission_date"), ("quarter", "admission_date"),
    ("icd10_chapter", "diagnosis"), ("sex", "sex"), ("stay", "stay"),
])
def test_groupings_resolve_to_the_column_that_carries_them(name, column):
    grouping = tables.grouping_for(name, COLUMNS)
    assert grouping is not None and grouping.column == column


@pytest.mark.parametrize("name", ["cpr", "shoe_size", "age", ""])
def test_direct_identifiers_and_unknown_names_are_not_groupable(name):
    assert tables.grouping_for(name, COLUMNS) is None


def test_derived_labels():
    frame = pd.DataFrame({
        "birth_date": pd.to_datetime(["1950-06-01", "1990-01-01", None]),
        "postcode": pd.Categorical(["2100", "2620", "9999"]),
        "admission_date": pd.to_datetime(["2024-02-10", "2024-11-30", "2023-05-05"]),
    })
    reference = date(2025, 1, 1)
    age = tables.group_labels(frame["birth_date"], tables.grouping_for("age_band", COLUMNS),
                              reference=reference)
    assert list(age) == ["70-79", "30-39", "unknown"]
    quarter = tables.group_labels(frame["admission_date"],
                                  tables.grouping_for("quarter", COLUMNS), reference=reference)
    assert list(quarter) == ["2024-Q1", "2024-Q4", "2023-Q2"]
    municipality = tables.group_labels(frame["postcode"],
                                       tables.grouping_for("municipality", COLUMNS),
                                       reference=reference)
    assert list(municipality) == ["101", "165", "unknown"]
    region = tables.group_labels(frame["postcode"], tables.grouping_for("region", COLUMNS),
                                 reference=reference)
    assert list(region)[:2] == ["1084", "1084"]


def test_the_cube_holds_every_cell_and_margin_with_distinct_persons():
    frame = pd.DataFrame({"sex": pd.Categorical(["f", "f", "m", "m", "m"]),
                          "diagnosis": ["J44", "J44", "J44", "C34", "C34"],
                          "stay": [1, 3, 5, 7, 9]})
    person = np.array([0, 0, 1, 2, 2])
    cube = tables.aggregate(frame, person=person,
                            groupings=[tables.grouping_for("sex", COLUMNS),
                                       tables.grouping_for("icd10_chapter", COLUMNS)],
                            measures=[tables.Measure("mean", "stay"),
                                      tables.Measure("median", "stay")],
                            reference=date(2025, 1, 1))
    rows = {(r["sex"], r["icd10_chapter"]): r for r in cube.to_dict("records")}
    assert rows[("f", "X")]["_persons"] == 1 and rows[("f", "X")]["_rows"] == 2
    assert rows[("m", "II")]["_persons"] == 1 and rows[("m", "II")]["_rows"] == 2
    assert rows[("m", None)]["_persons"] == 2 and rows[("m", None)]["_rows"] == 3
    assert rows[(None, "X")]["_persons"] == 2
    assert rows[(None, None)]["_persons"] == 3 and rows[(None, None)]["_rows"] == 5
    assert rows[(None, None)]["mean_stay"] == 5 and rows[(None, None)]["median_stay"] == 5
    assert rows[("m", None)]["_grouping"] == 0b10 and rows[(None, "X")]["_grouping"] == 0b01
    assert len(cube) == 3 + 2 + 2 + 1


def test_no_grouping_gives_the_grand_total():
    frame = pd.DataFrame({"stay": [1, 2]})
    cube = tables.aggregate(frame, person=None, groupings=[], measures=[],
                            reference=date(2025, 1, 1))
    assert cube[tables.PERSONS].tolist() == [2] and cube[tables.ROWS].tolist() == [2]


def test_cell_count_is_the_product_of_the_domains():
    assert tables.cell_count([["a", "b"], ["x", "y", "z"]]) == 6
    assert tables.cell_count([]) == 1


@pytest.mark.parametrize("per_person", [True, False])
def test_margins_count_each_person_once(per_person):
    rng = np.random.default_rng(5)
    person = rng.integers(0, 200, 3000)
    sex = np.where(person % 2 == 0, "f", "m")
    # Either a property of the person (one cell each) or of the row (several cells each).
    diagnosis = (np.array(["J44", "C34", "I50"])[person % 3] if per_person
                 else rng.choice(["J44", "C34", "I50"], 3000))
    frame = pd.DataFrame({"sex": pd.Categorical(sex), "diagnosis": diagnosis})
    cube = tables.aggregate(frame, person=person, reference=date(2025, 1, 1), measures=[],
                            groupings=[tables.grouping_for("sex", COLUMNS),
                                       tables.grouping_for("icd10_chapter", COLUMNS)])
    truth = pd.DataFrame({"sex": sex, "chapter": tables.icd10_chapter(pd.Index(diagnosis)),
                          "person": person})
    for record in cube.to_dict("records"):
        chosen = truth
        if record["sex"] is not None:
            chosen = chosen[chosen["sex"] == record["sex"]]
        if record["icd10_chapter"] is not None:
            chosen = chosen[chosen["chapter"] == record["icd10_chapter"]]
        assert record[tables.PERSONS] == chosen["person"].nunique()
