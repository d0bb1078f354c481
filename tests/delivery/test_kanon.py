"""k-anonymity in distinct persons, l-diversity and the generalisation search."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.delivery import kanon

ADULT = Path("/work/shared/data/adult")


def _table(rows: list[tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["zone", kanon.PERSON])
    frame[kanon.ROWS] = 1
    return frame


def _zone_hierarchy(values) -> kanon.Hierarchy:
    return kanon.hierarchy_from_levels("zone", pd.Index(sorted(set(values))),
                                       [lambda labels: labels.str[0], lambda labels: labels.map(
                                           lambda _: "*")])


def test_rows_of_one_person_count_once():
    table = _table([("A1", "p1")] * 5 + [("A1", "p2")])
    classes = kanon.ClassTable(table, [_zone_hierarchy(table["zone"])])
    outcome = classes.evaluate((0,), kanon.Requirement(k=3))
    assert outcome.class_persons.tolist() == [2]
    assert outcome.rows_suppressed == 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A1", "A2", "B1", "B2", "C9"]),
                          st.sampled_from([f"p{i}" for i in range(12)])), min_size=1,
                max_size=80),
       st.integers(1, 6), st.floats(0, 1))
def test_released_classes_always_hold_k_distinct_persons(rows, k, budget):
    table = _table(rows)
    classes = kanon.ClassTable(table, [_zone_hierarchy(table["zone"])])
    result = kanon.anonymise(classes, kanon.Requirement(k=k, max_suppressed_fraction=budget))
    level = result.node[0]
    general = {0: lambda z: z, 1: lambda z: z[0], 2: lambda z: "*"}[level]
    released = table.assign(zone=table["zone"].map(general))
    released = released[released["zone"].isin(result.kept_classes["zone"])]
    if len(released):
        assert released.groupby("zone")[kanon.PERSON].nunique().min() >= k
    assert len(released) + result.rows_suppressed == len(table)


def test_l_diversity_needs_distinct_sensitive_values():
    table = pd.DataFrame({"zone": ["A1"] * 4 + ["B1"] * 4,
                          kanon.PERSON: ["p1", "p2", "p3", "p4"] * 2,
                          "diagnosis": ["X"] * 4 + ["X", "Y", "X", "Y"], kanon.ROWS: 1})
    classes = kanon.ClassTable(table, [_zone_hierarchy(table["zone"])], sensitive=["diagnosis"])
    result = kanon.anonymise(classes, kanon.Requirement(k=2, l_diversity={"diagnosis": 2},
                                                        max_suppressed_fraction=0.5))
    assert result.kept_classes["zone"].tolist() == ["B1"]
    assert result.rows_suppressed == 4


@pytest.mark.skipif(not ADULT.exists(), reason="reference data not present")
def test_adult_is_5_anonymous_without_suppression():
    frame = pd.read_csv(ADULT / "adult.csv", sep=";", dtype=str)
    hierarchies = [kanon.hierarchy_from_table(
        name, pd.read_csv(ADULT / f"adult_hierarchy_{name}.csv", sep=";", header=None, dtype=str))
        for name in frame.columns]
    table = frame.groupby(list(frame.columns)).size().rename(kanon.ROWS).reset_index()
    result = kanon.anonymise(kanon.ClassTable(table, hierarchies), kanon.Requirement(k=5))
    assert result.rows_suppressed == 0 and result.achieved_k >= 5
    general = frame.copy()
    for hierarchy, level in zip(hierarchies, result.node, strict=True):
        mapping = dict(zip(hierarchy.labels[0], hierarchy.labels[level][hierarchy.codes[level]],
                           strict=True))
        general[hierarchy.name] = general[hierarchy.name].map(mapping)
    assert general.groupby(list(general.columns)).size().min() >= 5
